"""A community model over the shared base model: P = (1 - w) P_own + w P_base.

Each model keeps its own vocabulary; the mixture speaks a combined one, the base's words with
the base's ids and then the own words the base lacks, and translates histories and
candidates between the id spaces. A batch of the community only adds its new words to the
combined vocabulary. A community without a build yet answers from the base alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import numpy as np

from dbslm.distribution import Distribution
from dbslm.reading.reader import CANDIDATE_ENTRIES, Bounded
from dbslm.recent import Recent
from dbslm.text.vocab import CONTROL_TOKENS, UNK, Vocabulary


class CombinedVocabulary:
    """The words a community speaks: the base's, numbered as the base numbers them, then the
    own words the base lacks, in the order it takes them in. It only grows, so one serves
    every version of the same two builds, and replies under way keep their ids."""

    def __init__(self, base: Vocabulary) -> None:
        self.base_size = len(base)  # the ids below it are the base's
        self.vocab = Vocabulary.__new__(Vocabulary)
        self.vocab.texts, self.vocab.index = list(base.texts), dict(base.index)
        self.from_own: list[int] = list(range(len(CONTROL_TOKENS)))  # own id -> combined id (UNK: not known)
        self.to_own: dict[int, int] = {}  # combined id -> own id, of the words the own model knows

    def add(self, own: Vocabulary) -> np.ndarray:
        """Take in the words ``own`` (the own model's vocabulary) knows that this does not map
        yet; returns own id -> combined id (UNK for a word the own model does not know)."""
        texts, index, from_own, to_own = self.vocab.texts, self.vocab.index, self.from_own, self.to_own
        from_own.extend([UNK] * (len(own.texts) - len(from_own)))
        for text, i in own.index.items():
            if from_own[i] == UNK and i != UNK:
                combined = index.get(text)
                if combined is None:
                    combined = len(texts)
                    texts.append(text)  # before the index names it: a reply reading meanwhile finds its text
                    index[text] = combined
                from_own[i], to_own[combined] = combined, i
        return np.array(from_own, dtype=np.int64)


class MixedReader:
    """Next-word candidates of two models, interpolated linearly with base weight ``weight``."""

    def __init__(
        self,
        own: Bounded | None,
        base: Bounded,
        combined: CombinedVocabulary,
        from_own: np.ndarray,
        weight: float,
    ) -> None:
        """``from_own``: own id -> combined id, for each word of the own version."""
        self.own, self.base = own, base
        self.base_size, self.to_own, self.from_own = combined.base_size, combined.to_own, from_own
        self.weight = weight
        self.context = max(base.model.order, own.model.order if own is not None else 1) - 1  # tokens they read
        self._candidates: Recent[tuple[int, ...], Distribution] = Recent(CANDIDATE_ENTRIES)
        self._places: np.ndarray | None = None  # base id -> place among a distribution's own candidates, else -1

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
        words = self.from_own[own_words]
        shared = words < self.base_size  # own words the base has too (combined ids are the base's)
        if self._places is None:
            self._places = np.full(self.base_size, -1)
        self._places[words[shared]] = np.flatnonzero(shared)
        at = self._places[base_words]  # the place of each base candidate among the own ones
        self._places[words[shared]] = -1
        prob, base_prob = (1.0 - self.weight) * 10.0**own_logp, self.weight * 10.0**base_logp
        both = at >= 0
        prob[at[both]] += base_prob[both]
        return np.concatenate((words, base_words[~both])), np.log10(np.concatenate((prob, base_prob[~both])))

    async def prefetch(self, histories: Iterable[list[int]]) -> None:
        """Load what :meth:`candidates` needs for ``histories`` from both models at once."""
        if self.own is None:
            await self.base.prefetch(self._base_history(h) for h in histories)
            return
        histories = [h for h in histories if tuple(h[len(h) - self.context :]) not in self._candidates]
        await asyncio.gather(
            self.base.prefetch([self._base_history(h) for h in histories]),
            self.own.prefetch([self._own_history(h) for h in histories]),
        )

    def _base_history(self, history: list[int]) -> list[int]:
        """The end of ``history`` that a model reads, in base ids; reply-local (negative) ids
        and words the base lacks become UNK."""
        size = self.base_size
        return [i if 0 <= i < size else UNK for i in history[len(history) - self.context :]]

    def _own_history(self, history: list[int]) -> list[int]:
        to_own = self.to_own
        return [to_own.get(i, UNK) for i in history[len(history) - self.context :]]
