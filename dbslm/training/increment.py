"""Learning by delta: a batch of text added to (or taken from) a count-form build in place.

A batch reads the rows of its own n-grams and of their contexts, computes what changes
(:mod:`dbslm.ngram.delta`), and writes those rows, the discounts and the vocabulary in one
transaction: the same rows a full training of the whole text would write, row for row, at the
cost of the batch instead of the model. Readers drop what they kept of the changed contexts.
"""

from __future__ import annotations

import asyncio

import numpy as np

from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.ngram.counting import distinct
from dbslm.ngram.delta import (
    BatchGrams,
    batch_grams,
    context_changes,
    merged_head,
    new_counts,
    new_discounts,
    top_words,
)
from dbslm.store import Store
from dbslm.store.deltas import Delta, DeltaStore, StoredContext
from dbslm.store.models import OnSwitch, VocabUpdate
from dbslm.text.vocab import BOS, CONTROL_TOKENS, UNK, Vocabulary, forgotten

DELTA_MOST = 200_000  # distinct n-grams of a batch written in place; a bigger batch writes a new build
DELTA_SHARE = 0.1  # nor more than this share of the model's n-grams: a bigger one costs less written anew
NO_CONTEXT = StoredContext((0, 0, 0, 0), None, [])  # a context no word followed: no row, no followers


async def learn_in_place(
    store: Store, model: ModelInfo, vocab: Vocabulary, ids: np.ndarray, sign: int, on_switch: OnSwitch | None
) -> dict[int, int] | None:
    """Add (``sign`` 1) or subtract (-1) the n-grams of ``ids`` (encoded with ``vocab``, grown
    for new words) to the model's active build in place; returns its n-grams per order after,
    or None when the build cannot take the batch in place (the caller writes a new build).
    The caller holds the model's training lock."""
    deltas = DeltaStore(store.db)
    build = model.active_build
    state = await deltas.changeable(build)
    if state is None:
        return None
    version, head_size = state
    before = await store.models.discounts(build)
    most = min(DELTA_MOST, DELTA_SHARE * sum(d.ngrams for d in before))
    if len(ids) > 2 * most:  # so many tokens have more distinct n-grams than that: spare counting them
        return None
    grams = await asyncio.to_thread(batch_grams, ids, model.order, sign)
    if len(grams.n) > most:
        return None
    count, adjusted = await deltas.counts(build, grams.n, grams.ctx, grams.word)
    try:
        count_after, adjusted_after = new_counts(grams, count, adjusted, model.order)
    except ValueError:
        raise DbslmError(never_learned(model.name)) from None
    discounts = new_discounts(before, grams, count, count_after, adjusted, adjusted_after)
    if discounts[0].ngrams <= 1:  # only <unk> is left: the model is untrained, which a new (empty) build says
        return None
    contexts, dropped, touched = await _contexts(deltas, build, grams, adjusted, adjusted_after, head_size)
    changed = (count != count_after) | (adjusted != adjusted_after)
    sentences, tokens = text_size(ids)
    delta = Delta(
        grams.n[changed],
        grams.ctx[changed],
        grams.word[changed],
        count_after[changed],
        adjusted_after[changed],
        contexts,
        dropped,
        touched,
        discounts,
        _vocab_update(vocab, ids, grams, count_after),
        sign * sentences,
        sign * tokens,
    )
    await deltas.write(model.id, build, version, delta, on_switch)
    store.models.remembered.changed(build, version, ids, sign)
    return {d.n: d.ngrams for d in discounts}


def text_size(ids: np.ndarray) -> tuple[int, int]:
    """The sentences (or pairs) and the tokens (words, <unk> included) of encoded text."""
    return int((ids == BOS).sum()), int((ids >= len(CONTROL_TOKENS)).sum() + (ids == UNK).sum())


def never_learned(name: str) -> str:
    return (
        f"cannot untrain: model {name!r} never learned this text (it has n-grams the model does not count "
        "that often, or words it has forgotten); nothing was changed"
    )


async def _contexts(
    deltas: DeltaStore, build: int, grams: BatchGrams, adjusted: np.ndarray, adjusted_after: np.ndarray, head_size: int
) -> tuple[list, list[tuple[int, int]], list[tuple[int, int]]]:
    """The contexts whose words the batch changed: the new rows (n, ctx, stats, head blobs) of
    those with a head, the keys of those whose row goes (they have no head now), and every key."""
    change = context_changes(grams, adjusted, adjusted_after)
    keys = list(zip(change.n.tolist(), change.ctx.tolist()))
    found = await deltas.contexts(build, keys)
    stored = [found.get(key, NO_CONTEXT) for key in keys]
    moves = np.stack((change.total, change.n1, change.n2, change.n3), axis=1).tolist()
    stats, heads, unsettled = [], [], []
    for i, (old, move) in enumerate(zip(stored, moves)):
        stats.append(tuple(a + b for a, b in zip(old.stats, move)))
        words = change.rows[i]
        head = merged_head(
            old.head, grams.word[words], adjusted[words], adjusted_after[words], sum(stats[-1][1:]), head_size
        )
        if head is False:
            unsettled.append(i)
        heads.append(None if head is False else head)
    if unsettled:  # their heads need every word that follows them (read already for those without a row)
        unread = [keys[i] for i in unsettled if stored[i].has_row]
        followers = await deltas.followers(build, unread) if unread else {}
        for i in unsettled:
            known = stored[i].followers
            every = dict(followers.get(keys[i], []) if known is None else known)
            every.update(zip(grams.word[change.rows[i]].tolist(), adjusted_after[change.rows[i]].tolist()))
            heads[i] = top_words(
                np.fromiter(every, dtype=np.int64, count=len(every)),
                np.fromiter(every.values(), dtype=np.int64, count=len(every)),
                head_size,
            )
    rows = [
        (*key, stat, (head[0].astype("<i4").tobytes(), head[1].astype("<i4").tobytes()))
        for key, stat, head in zip(keys, stats, heads)
        if head is not None
    ]
    dropped = [key for key, old, head in zip(keys, stored, heads) if head is None and old.has_row]
    return rows, dropped, keys


def _vocab_update(vocab: Vocabulary, ids: np.ndarray, grams: BatchGrams, count_after: np.ndarray) -> VocabUpdate:
    """The vocabulary rows of the batch's words, with their frequencies now."""
    unigrams = grams.n == 1
    freq = dict(zip(grams.word[unigrams].tolist(), count_after[unigrams].tolist()))
    changed = distinct(ids).tolist()
    return vocab_update(vocab, changed, [freq.get(i, 0) for i in changed])


def vocab_update(vocab: Vocabulary, ids: list[int], freqs: list[int]) -> VocabUpdate:
    """The vocabulary rows of words ``ids`` with frequencies ``freqs``: a word whose count went
    to 0 keeps its row (its id stays), its text erased (:func:`forgotten`)."""
    return VocabUpdate(
        ids, [vocab.texts[i] if f or i < len(CONTROL_TOKENS) else forgotten(i) for i, f in zip(ids, freqs)], freqs
    )
