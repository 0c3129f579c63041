"""What a batch of text changes in a count-form build, from the batch and the rows it touches.

Every row a batch changes is one of its own n-grams: a count changes where the n-gram occurs;
an adjusted count changes where one of its left extensions (a longer n-gram of the batch)
appears or vanishes; a context's statistics change where the adjusted count of one of its
words does. So a batch reads and writes the rows of its n-grams and their contexts, never the
model's others, and the counts-of-counts move by the difference. Nothing here touches the
database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.ngram import hashing, scoring
from dbslm.ngram.kneser_ney import Discount, discount_of
from dbslm.text.vocab import BOS, NEVER_SAMPLED, UNK


@dataclass
class BatchGrams:
    """The distinct n-grams of a batch (every order, one row each) and how their counts move."""

    n: np.ndarray
    ctx: np.ndarray
    word: np.ndarray
    delta: np.ndarray  # the change of the raw count: occurrences times the sign
    bos_initial: np.ndarray  # the n-gram begins with <s> (its adjusted count is its raw count)
    suffix: np.ndarray  # the row of the n-gram without its first word (-1 for unigrams)


def batch_grams(ids: np.ndarray, order: int, sign: int) -> BatchGrams:
    """The n-grams of ``ids`` (sequences ``<s> .. </s>`` back to back) of orders 1..``order``."""
    q = scoring.queries(ids, order)
    parts, shorter, offset = [], np.full(len(ids), -1, dtype=np.int64), 0
    for n in range(1, order + 1):
        at = np.flatnonzero(q.valid(n))
        keys, first, inverse, counts = np.unique(
            hashing.extend_array(q.ctx[n - 1][at], ids[at]), return_index=True, return_inverse=True, return_counts=True
        )
        start = at[first]
        parts.append(
            (
                np.full(len(keys), n),
                q.ctx[n - 1][start],
                ids[start],
                sign * counts,
                q.avail[start] == n - 1,
                shorter[start] if n > 1 else np.full(len(keys), -1),
            )
        )
        shorter = np.full(len(ids), -1, dtype=np.int64)
        shorter[at] = offset + inverse.reshape(-1)
        offset += len(keys)
    return BatchGrams(*(np.concatenate(column) for column in zip(*parts)))


def new_counts(grams: BatchGrams, count: np.ndarray, adjusted: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw and adjusted counts of ``grams`` after the batch, given the ones stored (0 for
    n-grams not in the model); raises ValueError when a count would go below 0."""
    count_after = count + grams.delta
    if (count_after < 0).any():
        raise ValueError("a count went below 0: the text was never learned")
    exists = (count_after > 0).astype(np.int64) - (count > 0)  # +1 appeared, -1 vanished
    longer = grams.suffix >= 0
    extensions = np.bincount(grams.suffix[longer], weights=exists[longer], minlength=len(count)).astype(np.int64)
    raw = (grams.n == order) | grams.bos_initial
    adjusted_after = np.where(raw, count_after, adjusted + extensions)
    adjusted_after[(grams.n == 1) & np.isin(grams.word, (BOS, UNK))] = 0
    return count_after, adjusted_after


def new_discounts(
    old: list[Discount],
    grams: BatchGrams,
    count: np.ndarray,
    count_after: np.ndarray,
    adjusted: np.ndarray,
    adjusted_after: np.ndarray,
) -> list[Discount]:
    """Each order's counts-of-counts and n-gram count moved by the batch, and its discounts."""
    result = []
    for d in old:
        mine = grams.n == d.n
        t = tuple(
            t + int((adjusted_after[mine] == k).sum() - (adjusted[mine] == k).sum()) for k, t in zip((1, 2, 3, 4), d.t)
        )
        rows = d.ngrams + int((count_after[mine] > 0).sum() - (count[mine] > 0).sum())
        result.append(discount_of(d.n, t, rows))
    return result


@dataclass
class ContextChange:
    """The contexts whose words' adjusted counts a batch changed: their keys, how their
    statistics move, and per context its changed words (rows of the batch)."""

    n: np.ndarray
    ctx: np.ndarray
    total: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    n3: np.ndarray
    rows: list[np.ndarray]


def context_changes(grams: BatchGrams, adjusted: np.ndarray, adjusted_after: np.ndarray) -> ContextChange:
    """How the batch moves the statistics of each context whose words it changed."""
    changed = np.flatnonzero(adjusted != adjusted_after)
    keys, group = np.unique(np.stack((grams.n[changed], grams.ctx[changed]), axis=1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    before, after = np.minimum(adjusted[changed], 3), np.minimum(adjusted_after[changed], 3)

    def moved(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=len(keys)).astype(np.int64)

    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(keys) + 1))
    return ContextChange(
        keys[:, 0],
        keys[:, 1],
        moved(adjusted_after[changed] - adjusted[changed]),
        *(moved((after == k).astype(np.int64) - (before == k)) for k in (1, 2, 3)),
        [changed[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:])],
    )


def merged_head(
    head: tuple[np.ndarray, np.ndarray] | None,
    words: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    followers: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray] | None | bool:
    """A context's head after its ``words`` moved from adjusted counts ``before`` to ``after``,
    from its head before (None: it had none) when that decides it: None when it needs none
    (``followers``, the words that follow it now, are at most ``k``), False when only all its
    rows can tell (a word of its head lost count, or it had no head and may need one now)."""
    if followers <= k:
        return None
    eligible = ~np.isin(words, NEVER_SAMPLED)
    if head is None:
        return False
    head_words, head_counts = head
    counts = dict(zip(head_words.tolist(), head_counts.tolist()))
    for w, b, a in zip(words[eligible].tolist(), before[eligible].tolist(), after[eligible].tolist()):
        if a < b and (w in counts or a == 0):  # a head word lost count, or a word vanished
            return False
        counts[w] = a
    return _best(
        np.fromiter(counts, dtype=np.int64, count=len(counts)),
        np.fromiter(counts.values(), dtype=np.int64, count=len(counts)),
        k,
    )  # still more than k follow


def top_words(words: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The head of a context whose every word is given: its ``k`` eligible words of highest
    count (ties: lowest id), or None when it has at most ``k``."""
    eligible = ~np.isin(words, NEVER_SAMPLED) & (counts > 0)
    return _best(words[eligible], counts[eligible], k) if eligible.sum() > k else None


def _best(words: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    best = np.lexsort((words, -counts))[:k]
    return words[best], counts[best]
