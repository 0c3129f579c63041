"""Probabilities of a count-form build, computed from its rows as they are read.

The arithmetic is :func:`dbslm.ngram.kneser_ney.estimate`'s, value for value: a probability
read here is the one a full estimate of the same counts gives, to the last bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dbslm.ngram.kneser_ney import (
    NO_BACKOFF,
    ContextStats,
    Discount,
    interpolated,
    log10_backoff,
    unigram_probs,
)
from dbslm.text.vocab import BOS


@dataclass(frozen=True)
class Context:
    """A count-form context: the statistics of the words that follow it and its candidates,
    highest adjusted count first (its head, or every sampled word when it has no head)."""

    total: int
    n1: int
    n2: int
    n3: int
    words: np.ndarray  # int64
    counts: np.ndarray  # their adjusted counts, int64
    whole: bool  # the words are all that follow it (no head was needed)


def follower_stats(adjusted: list[int]) -> tuple[int, int, int, int]:
    """The statistics (total, n1, n2, n3) of a context whose words have these adjusted counts,
    as :func:`dbslm.ngram.kneser_ney.context_stats` computes them."""
    return (sum(adjusted), adjusted.count(1), adjusted.count(2), sum(1 for a in adjusted if a >= 3))


def stats_of(rows: np.ndarray) -> ContextStats:
    """Context statistics from integer columns (total, n1, n2, n3), as the estimate holds them."""
    total, n1, n2, n3 = (rows[..., i].astype(np.float64) for i in range(4))
    return ContextStats(total, n1, n2, n3)


def position_probs(
    found: np.ndarray, adjusted: np.ndarray, contexts: np.ndarray, words: np.ndarray, discounts: list[Discount]
) -> tuple[np.ndarray, np.ndarray]:
    """log10 p of the n-gram of each order ending at each position, and the log10 backoff of
    each n-gram as a context, as a probability-form build stores them (for
    :func:`dbslm.ngram.scoring.log10_probs`); all shaped (order, positions).

    ``found`` and ``adjusted``: whether each n-gram exists and its adjusted count; ``contexts``
    (order, positions, 4): the statistics of the context each order sees before each position
    (zeros where it has none); ``words``: the word at each position.
    """
    order = len(discounts)
    logp, backoff = np.zeros(found.shape), np.zeros(found.shape)
    with np.errstate(divide="ignore", invalid="ignore"):  # rows of absent n-grams are computed and dropped
        lower = unigram_probs(adjusted[0], stats_of(contexts[0]), discounts[0], discounts[0].ngrams)
        lower[words == BOS] = 1.0  # lmplz writes log10 p(<s>) as 0
        logp[0] = np.where(found[0], np.log10(lower), 0.0)
        for i in range(1, order):
            stats = stats_of(contexts[i])
            lower = interpolated(adjusted[i], stats, discounts[i], lower)
            logp[i] = np.where(found[i], np.log10(lower), 0.0)
            backoff[i - 1, :-1] = log10_backoff(stats.gamma(discounts[i]))[1:]
    return logp, backoff


@dataclass
class Level:
    """One context of a history and what a reader knows of it."""

    context: Context | None  # None: no word follows it
    known: dict[int, int]  # adjusted counts of words looked up beyond its candidates


def candidate_probs(levels: list[Level], discounts: list[Discount]) -> tuple[np.ndarray, np.ndarray]:
    """Next-word candidates after a history and their log10 probabilities, from its contexts
    shortest first (the empty one, then one word, ...): every candidate of the longest context
    that has it, with its interpolated probability there and the backoffs of the longer ones
    (the back-off form, restricted to the candidates). Each candidate's adjusted count in every
    shorter context must be known (among that context's words, or in its ``known``).

    A history has a few dozen candidates: plain floats are quicker than arrays that small, and
    round exactly as :func:`dbslm.ngram.kneser_ney.own_share` and ``interpolated`` do."""
    longest: dict[int, int] = {}  # candidate -> the longest level that has it
    counts: list[dict[int, int]] = []  # per level, the adjusted counts of its words
    for k, level in enumerate(levels):
        context = level.context
        words = context.words.tolist() if context is not None else []
        longest.update(dict.fromkeys(words, k))
        counts.append(dict(zip(words, context.counts.tolist())) if context is not None else {})
    ids, reach = list(longest), list(longest.values())
    lower = [0.0] * len(ids)  # each candidate's interpolated probability up to the level at hand
    backoffs: list[tuple[int, float]] = []  # (level, its log10 backoff) of the levels that have one
    for k, level in enumerate(levels):
        context = level.context
        if context is None:
            continue  # no word follows it (gamma 1): the shorter context's probabilities stand
        discount = discounts[k]
        d1, d2, d3 = discount.d
        cut, total = (0.0, d1, d2, d3), context.total
        gamma = (d1 * context.n1 + d2 * context.n2 + d3 * context.n3) / total  # as ContextStats.gamma
        uniform = gamma / (discount.ngrams - 1)
        own, known = counts[k], level.known  # known: a reader's look-ups, of every context it read (large)
        for i, w in enumerate(ids):
            if reach[i] >= k:  # past its longest level, nothing uses a candidate's value
                a = own[w] if w in own else known.get(w, 0)
                share = (a - cut[min(a, 3)]) / total  # own_share
                lower[i] = share + uniform if k == 0 else share + gamma * lower[i]
        if k > 0 and gamma != 1.0:
            backoffs.append((k, math.log10(gamma) if gamma > 0 else NO_BACKOFF))
    logp = np.log10(np.array(lower))  # each at its longest level: no level after it changed it
    at = np.array(reach, dtype=np.int64)
    for k, backoff in backoffs:
        logp[at < k] += backoff
    return np.array(ids, dtype=np.int64), logp
