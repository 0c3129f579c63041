"""A reader's next-word distribution, ranked once for every choice the decoder makes from it.

Readers keep the distributions of recent contexts, and replies copy the same learned answers,
so one distribution serves many choices: its ranking (best first, ties by id) and each word's
share of the probability mass are computed on first use and kept with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ranking:
    """The words best first (ties by id), each one's share of the distribution's mass, its
    cost (minus the natural log of the share; infinite for none) and each word's place in
    that order."""

    ids: list[int]
    shares: list[float]
    costs: list[float]
    place: dict[int, int]


class Distribution:
    """Candidate next words and their log10 probabilities (arrays nobody may change: the
    distribution is kept for the next reply in its context). Unpacks as ``words, log10p``."""

    __slots__ = ("words", "log10p", "_ranking")

    def __init__(self, words: np.ndarray, log10p: np.ndarray) -> None:
        self.words, self.log10p = words, log10p
        self._ranking: Ranking | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.words, self.log10p))

    def ranking(self) -> Ranking:
        """The words ranked by probability, with their shares and costs (computed once)."""
        if self._ranking is None:
            words = self.words.astype(np.int64, copy=False)
            shares = np.zeros(0)
            if len(words):
                p = np.power(10.0, self.log10p - self.log10p.max())
                shares = p / p.sum()
            order = np.lexsort((words, -self.log10p))
            ids, shares = words[order].tolist(), shares[order]
            with np.errstate(divide="ignore"):  # a share too small to hold costs infinitely much
                costs = -np.log(shares)
            self._ranking = Ranking(ids, shares.tolist(), costs.tolist(), {w: i for i, w in enumerate(ids)})
        return self._ranking
