"""Interpolated Modified Kneser-Ney, computed the way KenLM's ``lmplz`` does.

Three stages, as in lmplz: adjusted (continuation) counts, discounts from their
counts-of-counts, then interpolated probabilities and backoffs. Everything is vectorized
over the sorted key layout of :mod:`dbslm.ngram.counting`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.ngram.counting import SHIFT, OrderCounts
from dbslm.text.vocab import BOS, UNK

FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# A context whose every continuation has a discount of exactly 0 (D2 or D3 can be 0 when the
# counts-of-counts line up, as in a few sentences) leaves no mass to back off: log10(0). lmplz
# writes -inf there; no SQL database stores infinities, so such a backoff is this finite floor
# instead (a share of 1e-99: zero for every sum and perplexity that can be printed).
NO_BACKOFF = -99.0


@dataclass
class Discount:
    """One order's counts-of-counts t1..t4, discounts D1, D2, D3+ and number of n-grams."""

    n: int
    t: tuple[int, int, int, int]
    d: tuple[float, float, float]
    fallback: bool
    ngrams: int = 0


@dataclass
class Estimate:
    """log10 probabilities per order, log10 backoffs per order below the top, discounts."""

    logp: list[np.ndarray]
    backoff: list[np.ndarray]
    discounts: list[Discount]


def with_unk(counts: list[OrderCounts]) -> list[OrderCounts]:
    """Counts with ``<unk>`` among the unigrams (count 0) as KenLM always has it."""
    if counts[0].keys[0] == UNK:
        return counts
    uni = OrderCounts(np.insert(counts[0].keys, 0, UNK), np.insert(counts[0].counts, 0, 0))
    shifted = [OrderCounts(counts[1].keys + (np.int64(1) << SHIFT), counts[1].counts)] if len(counts) > 1 else []
    return [uni, *shifted, *counts[2:]]


def suffix_rows(counts: list[OrderCounts]) -> list[np.ndarray]:
    """For each order n >= 2, the row in order n-1 of each n-gram minus its first word."""
    suffixes: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for i in range(1, len(counts)):
        suffixes.append(suffix_rows_of(counts, i, suffixes[i - 1]))
    return suffixes


def suffix_rows_of(counts: list[OrderCounts], i: int, below: np.ndarray) -> np.ndarray:
    """The row in ``counts[i - 1]`` of each n-gram of ``counts[i]`` minus its first word, from
    ``below``: those rows of ``counts[i - 1]``'s n-grams (unused for the bigrams, ``i`` 1)."""
    words = counts[i].words
    keys = words if i == 1 else (below[counts[i].parents] << SHIFT) | words
    return np.searchsorted(counts[i - 1].keys, keys)


def adjusted_counts(counts: list[OrderCounts], suffixes: list[np.ndarray]) -> list[np.ndarray]:
    """Every order's :func:`adjusted_of`, from all orders' :func:`suffix_rows`."""
    return [adjusted_of(counts, i, suffixes[i + 1] if i + 1 < len(counts) else None) for i in range(len(counts))]


def adjusted_of(counts: list[OrderCounts], i: int, above: np.ndarray | None) -> np.ndarray:
    """The adjusted counts of ``counts[i]``: raw at the top order (``above`` None); below it,
    the number of distinct words preceding each n-gram (``above``: the suffix rows of
    ``counts[i + 1]``), except n-grams that begin with ``<s>``, which keep raw counts. The
    unigrams ``<s>`` and ``<unk>`` get 0."""
    if above is None:
        a = counts[i].counts.copy()
    else:
        a = np.bincount(above, minlength=len(counts[i].keys)).astype(np.int64)
        starts_bos = _first_words(counts, i) == BOS
        a[starts_bos] = counts[i].counts[starts_bos]
    if i == 0:
        words = counts[0].words
        a[(words == BOS) | (words == UNK)] = 0
    return a


def _first_words(counts: list[OrderCounts], i: int) -> np.ndarray:
    first = counts[0].words
    for j in range(1, i + 1):
        first = first[counts[j].parents]
    return first


def discounts(adjusted: list[np.ndarray]) -> list[Discount]:
    """Chen & Goodman's discounts per order (eq. 26), lmplz's fallback where they fail."""
    return [order_discount(i + 1, a) for i, a in enumerate(adjusted)]


def order_discount(n: int, adjusted: np.ndarray) -> Discount:
    """The discounts of order ``n`` from its n-grams' adjusted counts."""
    t = np.bincount(np.minimum(adjusted, 5), minlength=6)[1:5]
    return discount_of(n, tuple(int(x) for x in t), len(adjusted))


def discount_of(n: int, t: tuple[int, ...], ngrams: int) -> Discount:
    """The discounts of order ``n`` from its counts-of-counts ``t`` (t1..t4)."""
    t1, t2, t3, _ = t
    d: tuple[float, ...] = FALLBACK_DISCOUNTS
    fallback = True
    if t1 and t2 and t3:
        y = t1 / (t1 + 2 * t2)
        d = tuple(k - (k + 1) * y * t[k] / t[k - 1] for k in (1, 2, 3))
        fallback = not all(0.0 <= d[k - 1] <= k for k in (1, 2, 3))
        if fallback:
            d = FALLBACK_DISCOUNTS
    return Discount(n, (t[0], t[1], t[2], t[3]), (d[0], d[1], d[2]), fallback, ngrams)


@dataclass
class ContextStats:
    """Per context of one order: the sum of its words' adjusted counts, and how many of its
    words have an adjusted count of 1, 2 and 3 or more (Chen & Goodman's N1, N2, N3+)."""

    total: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    n3: np.ndarray

    def gamma(self, discount: Discount) -> np.ndarray:
        """The share each context leaves to the shorter one, as lmplz computes it:
        (D1 N1 + D2 N2 + D3 N3+) / total, 1 for a context with no words."""
        d1, d2, d3 = discount.d
        left = d1 * self.n1 + d2 * self.n2 + d3 * self.n3
        return np.divide(left, self.total, out=np.ones(len(self.total)), where=self.total > 0)

    def take(self, rows: np.ndarray) -> ContextStats:
        """The statistics of the contexts ``rows``."""
        return ContextStats(self.total[rows], self.n1[rows], self.n2[rows], self.n3[rows])


def own_share(adjusted: np.ndarray, total: np.ndarray, discount: Discount) -> np.ndarray:
    """Each word's discounted share of its context: (a - D(a)) / total (D(0) = 0)."""
    return (adjusted - np.array((0.0, *discount.d))[np.minimum(adjusted, 3)]) / total


def unigram_probs(adjusted: np.ndarray, root: ContextStats, discount: Discount, unigrams: int) -> np.ndarray:
    """p(w) of unigrams with these adjusted counts, interpolated with the uniform share of the
    ``unigrams`` rows of the model (``<unk>`` included, ``<s>`` not predicted)."""
    return own_share(adjusted, root.total, discount) + root.gamma(discount) / (unigrams - 1)


def interpolated(adjusted: np.ndarray, context: ContextStats, discount: Discount, lower: np.ndarray) -> np.ndarray:
    """p(w|h) of words with adjusted counts ``adjusted`` after contexts h with statistics
    ``context`` (one per word), given p(w|h') ``lower``."""
    return own_share(adjusted, context.total, discount) + context.gamma(discount) * lower


def log10_backoff(gamma: np.ndarray) -> np.ndarray:
    """log10 of the contexts' shares, :data:`NO_BACKOFF` where a share is 0."""
    return np.log10(gamma, out=np.full(len(gamma), NO_BACKOFF), where=gamma > 0)


def context_stats(parents: np.ndarray, adjusted: np.ndarray, contexts: int) -> ContextStats:
    """The statistics of ``contexts`` contexts from their words' ``parents`` and ``adjusted`` counts."""
    clipped = np.minimum(adjusted, 3)
    return ContextStats(
        np.bincount(parents, weights=adjusted, minlength=contexts),
        *(np.bincount(parents, weights=clipped == k, minlength=contexts) for k in (1, 2, 3)),
    )


def estimate(counts: list[OrderCounts]) -> Estimate:
    """Interpolated MKN for ``counts`` (which must include ``<unk>``; see :func:`with_unk`).

    p(w|h) = (a(hw) - D(a(hw))) / sum_x a(hx) + gamma(h) p(w|h'), with unigrams interpolated
    with the uniform 1/(|V| - 1) (``<s>`` excluded). lmplz's conventions: log10 p(``<s>``)
    is written as 0 and a context with no extensions has backoff 0.
    """
    suffixes = suffix_rows(counts)
    adjusted = adjusted_counts(counts, suffixes)
    discs = discounts(adjusted)
    logps: list[np.ndarray] = []
    backoffs: list[np.ndarray] = []
    lower = np.zeros(0)
    for i, a in enumerate(adjusted):
        parents = counts[i].parents
        stats = context_stats(parents, a, 1 if i == 0 else len(counts[i - 1].keys))
        if i == 0:
            p = unigram_probs(a, stats, discs[0], len(a))
        else:
            p = interpolated(a, stats.take(parents), discs[i], lower[suffixes[i]])
            backoffs.append(log10_backoff(stats.gamma(discs[i])))
        lower = p
        logps.append(np.log10(p))
    logps[0][counts[0].words == BOS] = 0.0
    return Estimate(logps, backoffs, discs)
