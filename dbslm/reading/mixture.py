"""A community model over the shared base model: P = (1 - w) P_own + w P_base.

Each model keeps its own vocabulary; the mixture speaks a combined one, the own model's ids
first and then the base's words the own model lacks, and translates histories and candidates
between the id spaces. A community without a build yet answers from the base alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dbslm.distribution import Distribution
from dbslm.reading.reader import CANDIDATE_ENTRIES, Bounded
from dbslm.recent import Recent
from dbslm.text.vocab import UNK, Vocabulary


def combined_vocabulary(own: Vocabulary, base: Vocabulary) -> tuple[Vocabulary, list[int], np.ndarray]:
    """The combined vocabulary, combined id -> base id (UNK where the base lacks the word),
    and base id -> combined id."""
    texts = list(own.texts) + [t for t in base.texts if t not in own.index]
    combined = Vocabulary(texts)
    to_base = [base.index.get(t, UNK) for t in texts]
    from_base = np.array([combined.index[t] for t in base.texts], dtype=np.int64)
    return combined, to_base, from_base


class MixedReader:
    """Next-word candidates of two models, interpolated linearly with base weight ``weight``."""

    def __init__(
        self,
        own: Bounded | None,
        own_size: int,
        base: Bounded,
        to_base: list[int],
        from_base: np.ndarray,
        weight: float,
    ) -> None:
        self.own, self.own_size, self.base = own, own_size, base
        self.to_base, self.from_base = to_base, from_base  # to_base is read per id: a list is quicker
        self.weight = weight
        self.context = max(base.model.order, own.model.order if own is not None else 1) - 1  # tokens they read
        self._candidates: Recent[tuple[int, ...], Distribution] = Recent(CANDIDATE_ENTRIES)
        self._places: np.ndarray | None = None  # own id -> place among a distribution's own candidates, else -1

    async def candidates(self, history: list[int]) -> Distribution:
        """Candidate next words (combined ids) and their mixed log10 probabilities (kept for
        the next reply in this context)."""
        if self.own is None:  # the base alone: the combined vocabulary is the base's
            return await self.base.candidates(self._base_history(history))
        context = tuple(history[len(history) - self.context :])
        found = self._candidates.get(context)
        if found is None:
            found = self._candidates[context] = Distribution(*await self._mixed(history))
        return found

    async def _mixed(self, history: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The own candidates, then the base's the own model lacks; a word both propose
        gets the sum of its shares."""
        base_words, base_logp = await self.base.candidates(self._base_history(history))
        own_words, own_logp = await self.own.candidates(self._own_history(history))
        words = self.from_base[base_words]
        at = np.full(len(words), -1)  # the place of each base candidate among the own ones
        shared = words < self.own_size  # the combined vocabulary numbers the own words first
        if self._places is None:
            self._places = np.full(self.own_size, -1)
        self._places[own_words] = np.arange(len(own_words))
        at[shared] = self._places[words[shared]]
        self._places[own_words] = -1
        prob, base_prob = (1.0 - self.weight) * 10.0**own_logp, self.weight * 10.0**base_logp
        both = at >= 0
        prob[at[both]] += base_prob[both]
        return np.concatenate((own_words, words[~both])), np.log10(np.concatenate((prob, base_prob[~both])))

    async def prefetch(self, histories: Iterable[list[int]]) -> None:
        if self.own is not None:
            histories = [h for h in histories if tuple(h[len(h) - self.context :]) not in self._candidates]
        await self.base.prefetch(self._base_history(h) for h in histories)
        if self.own is not None:
            await self.own.prefetch(self._own_history(h) for h in histories)

    def _base_history(self, history: list[int]) -> list[int]:
        """The end of ``history`` that a model reads, in base ids; reply-local (negative) ids
        and words the base lacks become UNK."""
        to_base, size = self.to_base, len(self.to_base)
        return [to_base[i] if 0 <= i < size else UNK for i in history[len(history) - self.context :]]

    def _own_history(self, history: list[int]) -> list[int]:
        return [i if 0 <= i < self.own_size else UNK for i in history[len(history) - self.context :]]
