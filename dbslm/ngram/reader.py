"""Reading one build for generation: next-word candidates with their probabilities.

The candidates after a history are the top-K heads of its context and of every shorter
context; each keeps the probability of the longest context whose head holds it, times the
backoffs of the longer contexts (the back-off form, restricted to the heads). Heads and
backoffs are cached, so a conversation's common contexts cost no query after the first.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from dbslm.ngram import hashing
from dbslm.store.level1 import Level1Store, ModelInfo

CACHE_ENTRIES = 200_000


class ModelReader:
    """Cached generation-time access to a model's active build."""

    def __init__(self, level1: Level1Store, model: ModelInfo, luts: dict[int, np.ndarray], head_size: int) -> None:
        self.level1 = level1
        self.model = model
        self.luts = luts
        self.head_size = head_size
        self._heads: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._backoffs: OrderedDict[tuple[int, ...], float] = OrderedDict()

    @classmethod
    async def open(cls, level1: Level1Store, model: ModelInfo, head_size: int = 32) -> "ModelReader":
        return cls(level1, model, await level1.quant_tables(model.active_build), head_size)

    async def candidates(self, history: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Candidate next words and their log10 probabilities after ``history``."""
        context = history[-(self.model.order - 1):] if self.model.order > 1 else []
        backoffs = await self._context_backoffs(context)
        words: dict[int, float] = {}
        carried = 0.0
        for k in range(len(context), -1, -1):
            suffix = context[len(context) - k:]
            head_words, head_logp = await self._head(suffix)
            for w, lp in zip(head_words.tolist(), head_logp.tolist()):
                if w not in words:
                    words[w] = carried + lp
            if k:
                carried += backoffs[k - 1]
        return np.fromiter(words.keys(), dtype=np.int64, count=len(words)), \
            np.fromiter(words.values(), dtype=np.float64, count=len(words))

    async def _head(self, context: list[int]) -> tuple[np.ndarray, np.ndarray]:
        n = len(context) + 1
        key = (n, hashing.context_key(context))
        cached = self._heads.get(key)
        if cached is None:
            words, codes = await self.level1.head(self.model.active_build, n, key[1], self.head_size)
            cached = (words.astype(np.int64), self.luts[n][codes] if len(codes) else np.zeros(0))
            _remember(self._heads, key, cached)
        return cached

    async def _context_backoffs(self, context: list[int]) -> list[float]:
        """log10 backoff of each suffix of ``context`` (length 1..len), 0 where not in the model."""
        result = []
        missing = []
        for k in range(1, len(context) + 1):
            suffix = tuple(context[len(context) - k:])
            value = self._backoffs.get(suffix)
            if value is None:
                missing.append(suffix)
            result.append(value)
        if missing:
            n = np.array([len(s) for s in missing])
            ctx = np.array([hashing.context_key(s[:-1]) for s in missing], dtype=np.int64)
            word = np.array([s[-1] for s in missing], dtype=np.int64)
            rows = await self.level1.lookup(self.model.active_build, n, ctx, word)
            found = {(int(a), int(b), int(c)): float(d) for a, b, c, d in
                     zip(rows.n, rows.ctx, rows.word, rows.backoff)}
            for s, c in zip(missing, ctx.tolist()):
                _remember(self._backoffs, s, found.get((len(s), c, s[-1]), 0.0))
            result = [self._backoffs[tuple(context[len(context) - k:])] for k in range(1, len(context) + 1)]
        return result


def _remember(cache: OrderedDict, key, value) -> None:
    cache[key] = value
    if len(cache) > CACHE_ENTRIES:
        cache.popitem(last=False)
