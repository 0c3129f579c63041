"""Recall: the responses to earlier prompts like the current one, weighted for the cache.

The full-text index finds candidate pairs; each is scored by the index's rank score (which
weighs rare words more) times the cosine of the prompts' sentence vectors (which also sees
words the index skipped). Then the responses vote: each response is ranked by its agreement
(shared words) with the others, weighted by their match, so the answer most of the similar prompts
got leads (a minimum-Bayes-risk choice) and weaker ones fade quickly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from dbslm.memory.embedding import Embedder, from_blob, to_blob
from dbslm.memory.retrieval import words_of
from dbslm.metrics import pairwise_unigram_f1
from dbslm.store.level2 import Level2Store

CANDIDATES = 20  # pairs the index returns
RETRIEVED = 3  # responses that enter the cache
SHARPNESS = 6  # weight = (match / best match) ** this: a near-identical prompt dominates
MIN_VOTE = 0.01  # responses weighted less than this take no part in the vote


class Recall:
    def __init__(self, level2: Level2Store, embedder: Embedder, model_ids: tuple[int, ...],
                 tokenize: Callable[[str], list[str]]) -> None:
        """Recall from the pairs of the models ``model_ids`` (a community's and its base's)."""
        self.level2 = level2
        self.tokenize = tokenize
        self.embedder = embedder
        self.model_ids = model_ids

    async def responses(self, prompt: str, tokens: list[str]) -> list[tuple[str, float]]:
        """Up to RETRIEVED (response, weight) of the best-matching earlier prompts."""
        words = words_of(tokens)
        if not words:
            return []
        hits = await self.level2.search_pairs(self.model_ids, sorted(set(words)), CANDIDATES)
        if not hits:
            return []
        query = (await self._encode([prompt]))[0]
        cosines = await self._prompt_vectors(hits) @ query
        scored = sorted(((max(score, 1e-3) * max(float(cosine), 0.0), response)
                         for cosine, (_, _, response, score) in zip(cosines, hits)), key=lambda s: -s[0])
        best = scored[0][0]
        if best <= 0:
            return [(response, 0.0) for _, response in scored[:RETRIEVED]]
        weighted = [(response, (match / best) ** SHARPNESS) for match, response in scored]
        voters = [(response, weight) for response, weight in weighted if weight >= MIN_VOTE]
        overlap = pairwise_unigram_f1([words_of(self.tokenize(response)) for response, _ in voters])
        agreement = (overlap @ np.array([weight for _, weight in voters])).tolist()
        top = max(agreement)
        if top <= 0:  # responses without words (emoji, say): nothing to vote on
            return weighted[:RETRIEVED]
        ranked = sorted(range(len(voters)), key=lambda i: (-agreement[i], i))
        return [(voters[i][0], (agreement[i] / top) ** SHARPNESS) for i in ranked[:RETRIEVED]]

    async def _prompt_vectors(self, hits: list[tuple[int, str, str, float]]) -> np.ndarray:
        """The hits' prompt vectors; a costly embedder's are stored on first use."""
        if not self.embedder.costly:
            return self.embedder.encode([prompt for _, prompt, _, _ in hits])
        stored = await self.level2.pair_vectors(self.embedder.name, [h[0] for h in hits])
        missing = [h for h in hits if h[0] not in stored]
        if missing:
            made = await self._encode([prompt for _, prompt, _, _ in missing])
            fresh = {h[0]: to_blob(v) for h, v in zip(missing, made)}
            await self.level2.save_pair_vectors(self.embedder.name, fresh)
            stored.update(fresh)
        return np.stack([from_blob(stored[h[0]]) for h in hits])

    async def _encode(self, texts: list[str]) -> np.ndarray:
        if self.embedder.costly:
            return await asyncio.to_thread(self.embedder.encode, texts)
        return self.embedder.encode(texts)
