"""Moving models in and out as ARPA files, so the engine serves models built elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.ngram import hashing
from dbslm.ngram.arpa import ArpaOrder, read_arpa, write_arpa
from dbslm.ngram.counting import distinct
from dbslm.ngram.heads import top_k
from dbslm.ngram.kneser_ney import estimate, with_unk
from dbslm.ngram.quantize import quantize
from dbslm.ngram.tables import ModelTables, OrderTable, counts_from_rows, parent_rows
from dbslm.store import Store
from dbslm.store.models import VocabUpdate
from dbslm.store.queue import QueueStore
from dbslm.text.vocab import Vocabulary

MISSING_UNK_LOGP = -100.0  # what KenLM assumes when an ARPA file has no <unk>


async def export_arpa(store: Store, model: ModelInfo, out: TextIO) -> dict[int, int]:
    """Write the model's active build to ``out``; returns the n-gram count per order. A build
    in count form is estimated from its counts, as a training estimates them."""
    orders = range(1, model.order + 1)
    if model.counted:
        counts = [await store.models.order_counts(model.active_build, n) for n in orders]
    else:
        rows = [await store.models.order_rows(model.active_build, n) for n in orders]
    vocab = await store.models.vocabulary(model)

    def work() -> list[int]:
        if model.counted:
            estimated = with_unk(counts_from_rows(counts))
            est = estimate(estimated)
            words, parents = [c.words for c in estimated], [c.parents for c in estimated]
            logps, backoffs = est.logp, est.backoff
        else:
            words = [r.word for r in rows]
            parents = parent_rows([r.ctx for r in rows], words)
            logps, backoffs = [r.logp for r in rows], [r.backoff for r in rows]
        spelled = np.array(vocab.texts, dtype=object)
        arpa, texts = [], spelled[words[0]]
        for i, logp in enumerate(logps):
            if i:
                texts = texts[parents[i]] + " " + spelled[words[i]]
            arpa.append((texts.tolist(), logp, backoffs[i] if i < len(logps) - 1 else None))
        write_arpa(out, arpa)
        return [len(w) for w in words]

    sizes = await asyncio.to_thread(work)
    return {n: size for n, size in zip(orders, sizes)}


async def import_arpa(store: Store, model: ModelInfo, lines: Iterable[str], source: str, head_size: int) -> int:
    """Replace ``model``'s build with the ARPA model in ``lines``; returns the new build id."""

    def work() -> tuple[ModelTables, Vocabulary]:
        return arpa_tables(read_arpa(lines, source), head_size, source)

    tables, vocab = await asyncio.to_thread(work)
    update = VocabUpdate(list(range(len(vocab))), vocab.texts, [0] * len(vocab))
    info = ModelInfo(model.id, model.name, tables.order, model.tokenizer, model.active_build)
    return await store.models.write_build(
        info, tables, update, replace_vocab=True, source="arpa", sentences=0, tokens=0, on_switch=QueueStore.clear
    )


def arpa_tables(orders: list[ArpaOrder], head_size: int, source: str) -> tuple[ModelTables, Vocabulary]:
    """The build rows for a parsed ARPA model (no counts: ARPA files carry none)."""
    unigrams = orders[0]
    if ["<unk>"] not in unigrams.words:
        unigrams.words.append(["<unk>"])
        unigrams.logp = np.append(unigrams.logp, MISSING_UNK_LOGP)
        unigrams.backoff = np.append(unigrams.backoff, 0.0)
    vocab = Vocabulary()
    for (word,) in unigrams.words:
        if word not in vocab.index:
            vocab.index[word] = len(vocab.texts)
            vocab.texts.append(word)
    tables, heads = [], []
    for order in orders:
        try:
            ids = np.array([[vocab.index[w] for w in words] for words in order.words], dtype=np.int64).reshape(
                -1, order.n
            )
        except KeyError as exc:
            raise DbslmError(
                f"{source}: the {order.n}-gram section uses {exc.args[0]!r}, which is not among the unigrams"
            ) from None
        ctx = np.full(len(ids), hashing.EMPTY_KEY, dtype=np.int64)
        for column in range(order.n - 1):
            ctx = hashing.extend_array(ctx, ids[:, column])
        word = ids[:, -1]
        if len(distinct(hashing.extend_array(ctx, word))) != len(word):
            raise DbslmError(f"{source}: the {order.n}-gram section lists an n-gram twice")
        codes, lut = quantize(order.logp)
        backoff = order.backoff if order.n < len(orders) else None
        tables.append(
            OrderTable(order.n, ctx, word, np.zeros(len(word), dtype=np.int64), order.logp, backoff, codes, lut)
        )
        heads.append(top_k(order.n, ctx, ctx, word, order.logp, codes, head_size))
    return ModelTables(tables, heads, []), vocab
