"""Perplexity of a text under a stored model, with KenLM ``query``'s definitions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import numpy as np

from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.ngram import count_probs, hashing, scoring
from dbslm.ngram.counting import distinct
from dbslm.store import Store
from dbslm.text.tokenize import get_tokenizer
from dbslm.text.vocab import BOS, EOS, SEP

MAX_ATTEMPTS = 5


async def trained_model(store: Store, name: str) -> ModelInfo:
    """The named model, which must have an active build."""
    model = await store.models.model(name)
    if model is None:
        raise DbslmError(f"no model named {name!r} in {store.db.description}")
    if model.active_build is None:
        raise DbslmError(f"model {name!r} has not been trained yet")
    return model


async def evaluate(
    store: Store, model: ModelInfo, sentences: Iterable[list[str]], *, order: int | None = None, quantized: bool = False
) -> scoring.Perplexity:
    """Perplexity of ``sentences`` (token lists) under ``model``.

    ``order`` below the model's scores with shorter contexts only (a truncated model, not
    the model one would train at that order). ``quantized`` reads the 8-bit codes instead
    of the full-precision log-probabilities (of a build in probability form: one in count form
    has no codes).

    If another process switches the model to a new build (or changes it in place) while this
    one reads, the old build's rows may vanish mid-read; the model is then scored again.
    """
    sentences = list(sentences)
    for _ in range(MAX_ATTEMPTS):
        if order is not None and not 1 <= order <= model.order:
            raise DbslmError(f"order {order} is out of range for model {model.name!r}: choose 1 to {model.order}")
        if quantized and model.counted:
            raise DbslmError(
                f"model {model.name!r} keeps counts and computes its probabilities exactly as they are "
                "read: it has no 8-bit codes to score with"
            )
        result = await _score(store, model, sentences, order or model.order, quantized)
        current = await trained_model(store, model.name)
        if result is not None and (current.active_build, current.version) == (model.active_build, model.version):
            return result
        model = current
    raise DbslmError(f"model {model.name!r} kept changing while it was being scored; try again")


async def reply_perplexities(store: Store, model: ModelInfo, pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """Perplexity of the pairs' responses (their tokens and ``</s>``) after ``<s> prompt <sep>``,
    and after ``<s> <sep>`` alone: does the model use the prompt?"""
    vocab = await store.models.vocabulary(model)
    tokenize = get_tokenizer(model.tokenizer).tokenize

    def encode(with_prompt: bool) -> tuple[np.ndarray, np.ndarray]:
        ids: list[int] = []
        scored: list[bool] = []
        for prompt, response in pairs:
            head = [BOS, *(vocab.ids(tokenize(prompt), grow=False) if with_prompt else []), SEP]
            body = [*vocab.ids(tokenize(response), grow=False), EOS]
            ids += head + body
            scored += [False] * len(head) + [True] * len(body)
        return np.array(ids, dtype=np.int64), np.array(scored, dtype=bool)

    found = []
    for with_prompt in (True, False):
        ids, scored = await asyncio.to_thread(encode, with_prompt)
        scores = await token_scores(store, model, ids)
        if scores is None:
            raise DbslmError(f"model {model.name!r} changed while it was being scored; try again")
        found.append(float(10 ** (-scores[scored].sum() / scored.sum())))
    return found[0], found[1]


async def _score(
    store: Store, model: ModelInfo, sentences: list[list[str]], order: int, quantized: bool
) -> scoring.Perplexity | None:
    """The perplexity, or None when the build lost rows while being read (it was replaced)."""
    vocab = await store.models.vocabulary(model)  # words of the active build; others are <unk>
    ids = await asyncio.to_thread(vocab.encode, sentences, grow=False)
    if len(ids) == 0:
        raise DbslmError("nothing to evaluate: the text has no tokens")
    scores = await token_scores(store, model, ids, order, quantized)
    return None if scores is None else scoring.perplexity(ids, scores)


async def token_scores(
    store: Store, model: ModelInfo, ids: np.ndarray, order: int | None = None, quantized: bool = False
) -> np.ndarray | None:
    """log10 p of every token of ``ids`` (sequences from ``<s>``; NaN at ``<s>``), or None
    when the build lost rows while being read."""
    q = scoring.queries(ids, order or model.order)
    found, logp, backoff = await _lookup(store, model, q, quantized)
    if not found[0].all():
        return None
    return scoring.log10_probs(q, found, logp, backoff)


async def _lookup(
    store: Store, model: ModelInfo, q: scoring.Queries, quantized: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Look each distinct n-gram of ``q`` up once; returns whether it exists, its log10 p
    and its backoff (0 where absent), each shaped (order, positions)."""
    build = model.active_build
    ctx = np.stack(q.ctx)
    own = np.stack([hashing.extend_array(c, q.ids) for c in q.ctx])
    valid = np.stack([q.valid(n) for n in range(1, q.order + 1)])
    _, first = np.unique(own[valid], return_index=True)
    orders, positions = (axis[first] for axis in np.nonzero(valid))
    rows = await store.models.lookup(build, orders + 1, ctx[orders, positions], q.ids[positions])
    gone = np.zeros(own.shape, dtype=bool), np.zeros(own.shape), np.zeros(own.shape)
    if len(rows.word) == 0:  # the build is gone
        return gone
    at, found = hashing.locate(hashing.extend_array(rows.ctx, rows.word), own)
    found &= valid
    if model.counted:
        discounts = (await store.models.discounts(build))[: q.order]
        if len(discounts) < q.order:  # the build is gone
            return gone
        contexts = await _contexts(store, build, q)
        return found, *count_probs.position_probs(
            found, np.where(found, rows.adjusted[at], 0), contexts, q.ids, discounts
        )
    logp = rows.logp
    if quantized:
        luts = await store.models.quant_tables(build)
        logp = logp.copy()
        for n, lut in luts.items():
            logp[rows.n == n] = lut[rows.code[rows.n == n]]
    return found, np.where(found, logp[at], 0.0), np.where(found, rows.backoff[at], 0.0)


async def _contexts(store: Store, build: int, q: scoring.Queries) -> np.ndarray:
    """The statistics (total, n1, n2, n3) of the count-form context that each order sees
    before each position of ``q`` (zeros where no word follows it), shaped (order, positions, 4)."""
    wanted = [distinct(q.ctx[n - 1][q.valid(n)]) for n in range(1, q.order + 1)]
    rows = await store.models.context_stats(
        build, np.concatenate([np.full(len(w), n) for n, w in enumerate(wanted, 1)]), np.concatenate(wanted)
    )
    stats = np.zeros((q.order, len(q.ids), 4), dtype=np.int64)
    for n in range(1, q.order + 1):
        mine = rows[rows[:, 0] == n]
        at, found = hashing.locate(mine[:, 1], q.ctx[n - 1])
        found &= q.valid(n)
        stats[n - 1][found] = mine[at[found], 2:]
    return stats
