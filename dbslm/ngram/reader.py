"""Reading one build for generation: next-word candidates with their probabilities.

The candidates after a history are the top-K heads of its context and of every shorter
context; each keeps the probability of the longest context whose head holds it, times the
backoffs of the longer contexts (the back-off form, restricted to the heads). Heads and
backoffs are cached, and :meth:`ModelReader.prefetch` loads what a set of likely histories
will need in a few queries, so a reply that follows its cache costs no query per token. The
candidates of the most recent contexts are kept whole: replies copy the same learned answers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from dbslm.ngram import hashing
from dbslm.store.level1 import Level1Store, ModelInfo

CACHE_ENTRIES = 200_000
CANDIDATE_ENTRIES = 8_192  # contexts whose merged candidates are kept (a few KB each)
Key = tuple[int, int]  # (n, context key): the n-grams that follow one context


class ModelReader:
    """Cached generation-time access to a model's active build."""

    def __init__(self, level1: Level1Store, model: ModelInfo, luts: dict[int, np.ndarray], head_size: int) -> None:
        self.level1 = level1
        self.model = model
        self.luts = luts
        self.head_size = head_size
        self._heads: OrderedDict[Key, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._backoffs: OrderedDict[tuple[int, ...], float] = OrderedDict()
        self._candidates: OrderedDict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    @classmethod
    async def open(cls, level1: Level1Store, model: ModelInfo, head_size: int = 32) -> "ModelReader":
        return cls(level1, model, await level1.quant_tables(model.active_build), head_size)

    async def candidates(self, history: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Candidate next words and their log10 probabilities after ``history`` (arrays the
        caller must not change: they are kept for the next reply in this context)."""
        context = self._context(history)
        found = self._candidates.get(context)
        if found is None:
            await self.prefetch([history])
            found = self._merged(context)
            remember(self._candidates, context, found, CANDIDATE_ENTRIES)
        return found

    def _merged(self, context: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        words: dict[int, float] = {}
        carried = 0.0
        for k in range(len(context), -1, -1):
            suffix = context[len(context) - k:]
            head_words, head_logp = self._heads[(k + 1, hashing.key_of(suffix))]
            for w, lp in zip(head_words.tolist(), head_logp.tolist()):
                if w not in words:
                    words[w] = carried + lp
            if k:
                carried += self._backoffs[suffix]
        return np.fromiter(words.keys(), dtype=np.int64, count=len(words)), \
            np.fromiter(words.values(), dtype=np.float64, count=len(words))

    async def prefetch(self, histories: Iterable[list[int]]) -> None:
        """Load the heads and backoffs that :meth:`candidates` needs for ``histories``."""
        heads: set[Key] = set()
        backoffs: set[tuple[int, ...]] = set()
        for context in {self._context(history) for history in histories}:
            if context in self._candidates:
                continue
            for k in range(len(context), -1, -1):
                suffix = context[len(context) - k:]
                key = (k + 1, hashing.key_of(suffix))
                if key not in self._heads:
                    heads.add(key)
                if k and suffix not in self._backoffs:
                    backoffs.add(suffix)
        if heads:
            for key, (words, codes) in (await self.level1.heads(self.model.active_build, sorted(heads))).items():
                logp = self.luts[key[0]][codes] if len(codes) else np.zeros(0)
                remember(self._heads, key, (words[:self.head_size].astype(np.int64), logp[:self.head_size]))
        if backoffs:
            await self._load_backoffs(sorted(backoffs))

    def _context(self, history: list[int]) -> tuple[int, ...]:
        return tuple(history[-(self.model.order - 1):]) if self.model.order > 1 else ()

    async def _load_backoffs(self, contexts: list[tuple[int, ...]]) -> None:
        """log10 backoff of each context (0 for a context not in the model)."""
        n = np.array([len(c) for c in contexts])
        ctx = np.array([hashing.key_of(c[:-1]) for c in contexts], dtype=np.int64)
        word = np.array([c[-1] for c in contexts], dtype=np.int64)
        rows = await self.level1.lookup(self.model.active_build, n, ctx, word)
        found = {(int(a), int(b), int(c)): float(d) for a, b, c, d in zip(rows.n, rows.ctx, rows.word, rows.backoff)}
        for context, key in zip(contexts, ctx.tolist()):
            remember(self._backoffs, context, found.get((len(context), key, context[-1]), 0.0))


def remember(cache: OrderedDict, key, value, limit: int = CACHE_ENTRIES) -> None:
    """Keep ``value`` under ``key``, dropping the oldest entry past ``limit``."""
    cache[key] = value
    if len(cache) > limit:
        cache.popitem(last=False)
