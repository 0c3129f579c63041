"""Training a model: tokens -> counts merged with the active build's -> MKN -> a new build.

The CPU-bound part runs in a worker thread, so an event loop keeps serving while a model
trains; the new build goes live in one transaction when it is complete.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from dbslm import telemetry
from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.ngram.count_tables import CountTables, count_tables
from dbslm.ngram.counting import OrderCounts, count_ngrams, distinct, merge_texts
from dbslm.ngram.heads import DEFAULT_HEAD_SIZE
from dbslm.ngram.tables import counts_from_rows
from dbslm.store import Store
from dbslm.store.models import OnSwitch, VocabUpdate
from dbslm.text.encoding import ChatTexts
from dbslm.text.tokenize import TOKENIZERS
from dbslm.text.vocab import Vocabulary
from dbslm.training.increment import learn_in_place, never_learned, text_size, vocab_update

MAX_ORDER = 6
DEFAULT_ORDER = 3
DEFAULT_TOKENIZER = "regex"
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
T = TypeVar("T")
Text = tuple[Iterable[list[str]], Iterable[tuple[list[str], list[str]]], ChatTexts | None]  # sentences, dialog, chat


def quiet(stage: str) -> None:
    """The default progress listener: says nothing."""


@dataclass
class TrainReport:
    """What one training (or untraining) run did: the build now serving (None when
    untraining left no n-grams), the sentences and tokens of the run's text, and the new
    build's n-grams per order."""

    model: str
    build: int | None
    sentences: int
    tokens: int
    ngrams: dict[int, int]
    seconds: float


def check_model_name(name: str) -> str:
    if not MODEL_NAME.fullmatch(name or ""):
        raise DbslmError(f"invalid model name {name!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return name


def check_order(order: int) -> int:
    if not 1 <= order <= MAX_ORDER:
        raise DbslmError(f"order {order} is out of range: choose 1 to {MAX_ORDER}")
    return order


async def resolve_model(store: Store, name: str, order: int | None, tokenizer: str | None, reset: bool) -> ModelInfo:
    """The model to train, created if new; a trained model keeps its order and tokenizer
    unless ``reset``."""
    check_model_name(name)
    if tokenizer is not None and tokenizer not in TOKENIZERS:
        raise DbslmError(f"unknown tokenizer {tokenizer!r}: choose {' or '.join(TOKENIZERS)}")
    if order is not None:
        check_order(order)
    model = await store.models.model(name)
    if model is None:
        return ModelInfo(None, name, order or DEFAULT_ORDER, tokenizer or DEFAULT_TOKENIZER)
    if reset or model.active_build is None:
        return ModelInfo(model.id, name, order or model.order, tokenizer or model.tokenizer, model.active_build)
    if model.source == "arpa":
        raise DbslmError(
            f"model {name!r} was imported from an ARPA file, which has no counts to add to; "
            "pass --reset to train it from text instead"
        )
    if order is not None and order != model.order:
        raise DbslmError(f"model {name!r} has order {model.order}; pass --reset to retrain it at order {order}")
    if tokenizer is not None and tokenizer != model.tokenizer:
        raise DbslmError(f"model {name!r} uses the {model.tokenizer} tokenizer; pass --reset to change it")
    return model


async def train(
    store: Store,
    model: ModelInfo,
    sentences: Iterable[list[str]] = (),
    *,
    dialog: Iterable[tuple[list[str], list[str]]] = (),
    chat: ChatTexts | None = None,
    reset: bool = False,
    head_size: int = DEFAULT_HEAD_SIZE,
    progress: Callable[[str], None] = quiet,
    on_switch: OnSwitch | None = None,
) -> TrainReport:
    """Add ``sentences`` (token lists), ``dialog`` (prompt and response token lists, each
    pair one sequence ``<s> prompt <sep> response </s>``) and ``chat`` (channel messages) to
    ``model`` and switch it to the rebuilt build.

    The new counts merge with the active build's, so training on A then B gives the model
    of A+B. With ``reset`` the model starts from nothing (the old build serves until the
    new one is complete). ``progress`` hears the start of each stage; ``on_switch`` runs in
    the transaction that switches to the new build.
    """
    return await _rebuild(store, model, (sentences, dialog, chat), 1, reset, head_size, progress, on_switch)


async def untrain(
    store: Store,
    model: ModelInfo,
    sentences: Iterable[list[str]] = (),
    *,
    dialog: Iterable[tuple[list[str], list[str]]] = (),
    chat: ChatTexts | None = None,
    head_size: int = DEFAULT_HEAD_SIZE,
    progress: Callable[[str], None] = quiet,
    on_switch: OnSwitch | None = None,
) -> TrainReport:
    """Forget ``sentences``, ``dialog`` and ``chat`` (encoded as :func:`train` encodes them): subtract
    their counts from the active build's and switch the model named by ``model`` (its stored
    order and vocabulary apply) to the rebuilt build.

    Training A and B then untraining B gives the model of A alone, n-gram for n-gram; words
    only B had keep their vocabulary row (ids stay stable) with frequency 0 and their text
    erased (:func:`forgotten`), and read as ``<unk>`` everywhere. Text the model never learned
    (an unknown word, or more occurrences of an n-gram than it counts) raises
    :class:`DbslmError` and changes nothing. Forgetting everything leaves no n-grams: the
    model returns to untrained (no active build, report ``build`` None) and its next training
    starts a fresh vocabulary. The report counts the sentences and tokens removed.
    ``on_switch`` is as for :func:`train`.
    """
    return await _rebuild(store, model, (sentences, dialog, chat), -1, False, head_size, progress, on_switch)


async def _rebuild(
    store: Store,
    model: ModelInfo,
    text: Text,
    sign: int,
    reset: bool,
    head_size: int,
    progress: Callable[[str], None],
    on_switch: OnSwitch | None,
) -> TrainReport:
    """Add (``sign`` 1) or subtract (``sign`` -1) the counts of ``text`` and switch to the result."""
    with telemetry.training("learn" if sign > 0 else "forget"):
        started = time.perf_counter()
        models = store.models
        async with store.db.lock(f"train:{model.name}"):
            current = await models.model(model.name)
            if sign < 0:
                model = _forgettable(current, model.name)
            elif current is not None:
                model = replace(model, id=current.id, active_build=current.active_build)
            active = current.active_build if current else None
            whole_vocab = reset or active is None
            vocab = Vocabulary() if whole_vocab else await models.vocabulary(model, every_word=True)
            ids = await asyncio.to_thread(_encode, model, vocab, text, sign)
            sequences, words = text_size(ids)
            if not whole_vocab and current.counted:
                ngrams = await learn_in_place(store, current, vocab, ids, sign, on_switch)
                if ngrams is not None:
                    return TrainReport(model.name, active, sequences, words, ngrams, time.perf_counter() - started)
            remembered = None if whole_vocab else await models.remembered.of(active)
            old_counts, batches = (remembered.counts, remembered.batches) if remembered else (None, [])
            if old_counts is None and not whole_vocab:
                progress("reading the current counts")
                rows = [await models.order_counts(active, n) for n in range(1, model.order + 1)]
                old_counts = await asyncio.to_thread(counts_from_rows, rows)
            progress("counting and estimating")
            whole = await asyncio.to_thread(_whole, vocab, ids) if whole_vocab else None  # a first build or a reset
            counting = asyncio.to_thread(_build, model, vocab, ids, sign, old_counts, batches, head_size)
            if active is None:  # nobody reads a first build's vocabulary before its switch: written while counting
                model, (tables, counts, _) = await _with_first_vocabulary(store, model, whole, counting)
                update = None
            else:
                tables, counts, update = await counting
                update = whole if whole_vocab else update
            sizes = tables.sizes if tables is not None else {}
            progress(f"writing {sum(sizes.values()):,} n-grams")
            build = await models.write_build(
                model,
                tables,
                update,
                replace_vocab=whole_vocab,
                source="text",
                sentences=sequences,
                tokens=words,
                on_switch=on_switch,
            )
            if build is not None:
                await models.remembered.keep(build, counts)
        return TrainReport(model.name, build, sequences, words, sizes, time.perf_counter() - started)


def _forgettable(model: ModelInfo | None, name: str) -> ModelInfo:
    """The stored model to untrain from, which must have counts."""
    if model is None or model.active_build is None:
        raise DbslmError(f"model {name!r} has not been trained: there is nothing to untrain")
    if model.source == "arpa":
        raise DbslmError(f"model {name!r} was imported from an ARPA file, which has no counts to untrain")
    return model


def _encode(model: ModelInfo, vocab: Vocabulary, text: Text, sign: int) -> np.ndarray:
    """The token ids of the text (``vocab`` grows by its new words, which untraining refuses)."""
    learned = len(vocab)
    sentences, dialog, chat = text
    parts = [vocab.encode(sentences, grow=True), vocab.encode_dialog(dialog, grow=True)]
    ids = np.concatenate(parts if chat is None else [*parts, chat.encode(vocab)])
    if len(ids) == 0:
        raise DbslmError(f"nothing to {'train' if sign > 0 else 'untrain'}: the input has no tokens")
    if sign < 0 and (ids >= learned).any():
        raise DbslmError(
            f"cannot untrain: model {model.name!r} never learned the word "
            f"{vocab.texts[int(ids[ids >= learned].min())]!r}; nothing was changed"
        )
    return ids


def _build(
    model: ModelInfo,
    vocab: Vocabulary,
    ids: np.ndarray,
    sign: int,
    old_counts: list[OrderCounts] | None,
    batches: list[tuple[np.ndarray, int]],
    head_size: int,
) -> tuple[CountTables | None, list[OrderCounts], VocabUpdate | None]:
    """The tables of the old counts, with the ``batches`` the build took in place since they
    were kept, plus ``sign`` times the text's ``ids`` (None when no n-gram is left), those
    counts and the vocabulary rows to change (None without old counts: see :func:`_whole`)."""
    if old_counts is None:  # a model's first build (or a reset): its text, added
        counts = count_ngrams(ids, model.order)
    else:
        try:
            counts = merge_texts(old_counts, [*batches, (ids, sign)], model.order)
        except ValueError:
            raise DbslmError(never_learned(model.name)) from None
    tables = count_tables(counts, head_size) if len(counts[0].keys) else None
    if old_counts is None:
        return tables, counts, None
    changed = distinct(ids)
    return tables, counts, vocab_update(vocab, changed.tolist(), _frequencies(counts[0], changed))


def _whole(vocab: Vocabulary, ids: np.ndarray) -> VocabUpdate:
    """Every row of a vocabulary learned from ``ids`` alone (a first build or a reset)."""
    return vocab_update(vocab, list(range(len(vocab))), np.bincount(ids, minlength=len(vocab)).tolist())


async def _with_first_vocabulary(
    store: Store, model: ModelInfo, vocab: VocabUpdate, counting: Awaitable[T]
) -> tuple[ModelInfo, T]:
    """What ``counting`` gives, with the model's first vocabulary written meanwhile (the model
    then has an id: its row is made if it is new)."""
    writing = asyncio.create_task(store.models.write_first_vocabulary(model, vocab))
    try:
        counted = await counting
        return replace(model, id=await writing), counted
    except BaseException:
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
        raise


def _frequencies(unigrams: OrderCounts, ids: np.ndarray) -> list[int]:
    """The unigram count of each of ``ids`` (0 for a word without one)."""
    words = np.append(unigrams.words, -1)  # a sentinel no id matches
    at = np.searchsorted(unigrams.words, ids)
    return np.where(words[at] == ids, np.append(unigrams.counts, 0)[at], 0).tolist()
