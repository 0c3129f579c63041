"""Scoring text with a stored model in ARPA backoff form, as KenLM's ``query`` does.

For each token, the longest n-gram the model has gives log10 p(w|h); each longer context
the model also has adds its backoff. Unknown words are ``<unk>``. Pure numpy: the caller
looks the keys up in the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.ngram import hashing
from dbslm.text.vocab import BOS, UNK


@dataclass
class Queries:
    """The n-grams to look up: for each order n (1..N) and each position, its key."""

    ids: np.ndarray
    avail: np.ndarray  # tokens before each position within its sentence
    ctx: list[np.ndarray]  # per order n: key of the n-1 tokens before each position

    @property
    def order(self) -> int:
        return len(self.ctx)

    def valid(self, n: int) -> np.ndarray:
        return self.avail >= n - 1


@dataclass
class Perplexity:
    """KenLM ``query -v summary`` figures for a text."""

    log10_prob: float
    tokens: int
    oovs: int
    log10_prob_excluding_oovs: float

    @property
    def including_oovs(self) -> float:
        return float(10 ** (-self.log10_prob / self.tokens)) if self.tokens else float("nan")

    @property
    def excluding_oovs(self) -> float:
        kept = self.tokens - self.oovs
        return float(10 ** (-self.log10_prob_excluding_oovs / kept)) if kept else float("nan")


def queries(ids: np.ndarray, order: int) -> Queries:
    """Context keys of orders 1..``order`` at every position of ``ids`` (sentences back to back)."""
    positions = np.arange(len(ids))
    starts = np.flatnonzero(ids == BOS)
    avail = positions - starts[np.searchsorted(starts, positions, side="right") - 1]
    ctx = [np.full(len(ids), hashing.EMPTY_KEY, dtype=np.int64)]
    for _ in range(1, order):
        shorter = ctx[-1]
        longer = np.full(len(ids), hashing.EMPTY_KEY, dtype=np.int64)
        longer[1:] = hashing.extend_array(shorter[:-1], ids[:-1])
        ctx.append(longer)
    return Queries(ids, avail, ctx)


def log10_probs(q: Queries, found: np.ndarray, logp: np.ndarray, backoff: np.ndarray) -> np.ndarray:
    """log10 p of every position (NaN at ``<s>``) from lookups shaped (order, positions):
    whether the n-gram exists, its log10 p and its backoff (0 where absent)."""
    matched = np.zeros(len(q.ids), dtype=np.int64)
    for n in range(1, q.order + 1):
        matched[found[n - 1]] = n
    if (matched == 0).any():
        raise ValueError("a word has no unigram: the model lacks <unk>")
    score = logp[matched - 1, np.arange(len(q.ids))]
    for k in range(1, q.order):
        adds = (k >= matched) & (q.avail >= k)
        adds[0] = False
        score[1:] += np.where(adds[1:], backoff[k - 1, :-1], 0.0)
    score[q.ids == BOS] = np.nan
    return score


def perplexity(ids: np.ndarray, scores: np.ndarray) -> Perplexity:
    """Sum and count over predicted tokens (every word and ``</s>``, never ``<s>``)."""
    predicted = ids != BOS
    oov = ids == UNK
    kept = predicted & ~oov
    return Perplexity(float(scores[predicted].sum()), int(predicted.sum()), int(oov.sum()), float(scores[kept].sum()))
