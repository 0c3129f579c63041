"""Reading one build for generation: next-word candidates with their probabilities.

The candidates after a history are the top-K heads of its context and of every shorter
context; each keeps the probability of the longest context whose head holds it, times the
backoffs of the longer contexts (the back-off form, restricted to the heads). A count-form
build's probabilities are computed from the counts of those contexts (exactly as a training
estimates them); a probability-form build's come from 8-bit codes and stored backoffs. What
is read is cached, and :meth:`ModelReader.prefetch` loads what a set of likely histories
will need in a few queries, so a reply that follows its cache costs no query per token. The
candidates of the most recent contexts are kept whole: replies copy the same learned answers.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dbslm.distribution import Distribution
from dbslm.domain import ModelInfo
from dbslm.ngram import hashing
from dbslm.ngram.count_probs import Level, candidate_probs
from dbslm.ngram.kneser_ney import Discount
from dbslm.recent import Recent
from dbslm.store.heads import Context
from dbslm.store.models import ModelStore

CACHE_ENTRIES = 200_000
CANDIDATE_ENTRIES = 8_192  # contexts whose merged candidates are kept (a few KB each)
# a reader's probabilities keep the discounts they were computed with until one moves by more than this share
# (a batch moves them by about a thousandth of that): sampling cannot tell, and caches stay warm
DISCOUNT_DRIFT = 1e-3
Key = tuple[int, int]  # (n, context key): the n-grams that follow one context


class ModelReader:
    """Cached generation-time access to a model's active build (:meth:`open` picks the reader
    of the build's form)."""

    def __init__(self, models: ModelStore, model: ModelInfo, head_size: int) -> None:
        self.models = models
        self.model = model
        self.head_size = head_size
        self._candidates: Recent[tuple[int, ...], Distribution] = Recent(CANDIDATE_ENTRIES)

    @classmethod
    async def open(cls, models: ModelStore, model: ModelInfo, head_size: int = 32) -> ModelReader:
        if model.counted:
            return CountReader(models, model, await models.discounts(model.active_build), head_size)
        return StoredReader(models, model, await models.quant_tables(model.active_build), head_size)

    async def candidates(self, history: list[int]) -> Distribution:
        """Candidate next words and their log10 probabilities after ``history`` (kept for the
        next reply in this context)."""
        context = self._context(history)
        found = self._candidates.get(context)
        while found is None:
            await self.prefetch([history])
            merged = self._merged(context)  # None when a refresh dropped what it needs meanwhile
            if merged is not None:
                found = self._candidates[context] = Distribution(*merged)
        return found

    async def refresh(self, model: ModelInfo) -> bool:
        """Bring the reader to ``model``'s version of its build; False when it cannot (another
        build: open a new reader)."""
        return False

    async def prefetch(self, histories: Iterable[list[int]]) -> None:
        """Load what :meth:`candidates` needs for ``histories``."""
        contexts = {context for context in map(self._context, histories) if context not in self._candidates}
        if contexts:
            await self._load(contexts)

    def _context(self, history: list[int]) -> tuple[int, ...]:
        return tuple(history[-(self.model.order - 1) :]) if self.model.order > 1 else ()

    async def _load(self, contexts: set[tuple[int, ...]]) -> None:
        raise NotImplementedError

    def _merged(self, context: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        raise NotImplementedError


def drifted(old: list[Discount], new: list[Discount]) -> bool:
    """Whether a discount or the unigrams' uniform share moved by more than :data:`DISCOUNT_DRIFT`."""
    return len(old) != len(new) or any(
        abs(b - a) > DISCOUNT_DRIFT * a for d, e in zip(old, new) for a, b in zip((*d.d, d.ngrams), (*e.d, e.ngrams))
    )


def suffixes(context: tuple[int, ...]) -> list[tuple[tuple[int, ...], Key]]:
    """Each suffix of ``context``, shortest (empty) first, with the key of the words after it."""
    return [
        (context[len(context) - k :], (k + 1, hashing.key_of(context[len(context) - k :])))
        for k in range(len(context) + 1)
    ]


class CountReader(ModelReader):
    """A count-form build: each candidate's probability computed from the counts of its contexts."""

    def __init__(self, models: ModelStore, model: ModelInfo, discounts: list[Discount], head_size: int) -> None:
        super().__init__(models, model, head_size)
        self.discounts = discounts
        self._contexts: Recent[Key, Context | None] = Recent(CACHE_ENTRIES)  # None: no word follows it
        self._known: Recent[Key, dict[int, int]] = Recent(CACHE_ENTRIES)  # adjusted counts beyond a head
        self._suffix_keys: dict[tuple[int, ...], list[Key]] = {}  # of the contexts of the merged candidates
        self._complete: dict[tuple[int, ...], list[Key]] = {}  # contexts whose counts are all loaded: their keys
        self._refreshes = 0

    async def refresh(self, model: ModelInfo) -> bool:
        """Drop what the reader kept of the contexts that the batches since its version
        changed. Its probabilities keep the discounts it took last until one of them (or the
        unigrams' uniform share) moved by more than :data:`DISCOUNT_DRIFT`: then it takes the
        new ones and computes every candidate list again."""
        if model.active_build != self.model.active_build:
            return False
        if model.version != self.model.version:
            touched = await self.models.touched(model.active_build, self.model.version)
            if touched is None:
                return False
            discounts = await self.models.discounts(model.active_build)
            if drifted(self.discounts, discounts):
                self.discounts = discounts
                self._candidates.clear()
            for context in [c for c in self._candidates if not touched.isdisjoint(self._suffix_keys.get(c, touched))]:
                del self._candidates[context]
            self._suffix_keys = {c: self._suffix_keys[c] for c in self._candidates if c in self._suffix_keys}
            for key in touched:
                self._contexts.pop(key, None)
                self._known.pop(key, None)
            self._complete.clear()
            self._refreshes += 1
        self.model = model
        return True

    def _merged(self, context: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        keys = [key for _, key in suffixes(context)]
        if any(key not in self._contexts for key in keys):
            return None
        self._suffix_keys[context] = keys
        return candidate_probs([Level(self._contexts[key], self._known.get(key, {})) for key in keys], self.discounts)

    async def _load(self, contexts: set[tuple[int, ...]]) -> None:
        """Read the contexts of every suffix, then the adjusted counts that their candidates
        need in shorter contexts whose head does not have them; again when a refresh dropped
        some of them meanwhile."""
        while True:
            refreshes = self._refreshes
            await self._load_once(contexts)
            if refreshes == self._refreshes:
                return

    async def _load_once(self, contexts: set[tuple[int, ...]]) -> None:
        complete = self._complete
        keys: dict[tuple[int, ...], list[Key]] = {}  # the contexts to load, with the keys of their suffixes
        for context in contexts:
            chain = complete.get(context)
            if chain is None or any(key not in self._contexts for key in chain):
                keys[context] = chain or [key for _, key in suffixes(context)]
        wanted = {key for chain in keys.values() for key in chain if key not in self._contexts}
        if wanted:
            found = await self.models.contexts(self.model.active_build, sorted(wanted))
            for key in wanted:
                self._contexts[key] = found.get(key)
        missing: set[tuple[int, int, int]] = set()
        for chain in keys.values():
            levels = [(key, self._contexts.get(key)) for key in chain]
            for k, (_, longer) in enumerate(levels):
                for key, shorter in levels[:k] if longer is not None else ():
                    if shorter is None or shorter.whole:
                        continue
                    known = self._known.get(key, {})
                    missing.update(
                        (*key, w) for w in set(longer.words.tolist()) - set(shorter.words.tolist()) if w not in known
                    )
        if missing:
            adjusted = await self.models.adjusted_counts(self.model.active_build, sorted(missing))
            for n_, ctx_, word_ in missing:
                known = self._known.get((n_, ctx_))
                if known is None:
                    known = self._known[(n_, ctx_)] = {}
                known[word_] = adjusted.get((n_, ctx_, word_), 0)
        if len(complete) > CACHE_ENTRIES:
            complete.clear()
        complete.update(keys)


class StoredReader(ModelReader):
    """A probability-form build (an ARPA import): heads of 8-bit codes and stored backoffs."""

    def __init__(self, models: ModelStore, model: ModelInfo, luts: dict[int, np.ndarray], head_size: int) -> None:
        super().__init__(models, model, head_size)
        self.luts = luts
        self._heads: Recent[Key, tuple[np.ndarray, np.ndarray]] = Recent(CACHE_ENTRIES)
        self._backoffs: Recent[tuple[int, ...], float] = Recent(CACHE_ENTRIES)

    def _merged(self, context: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        words: dict[int, float] = {}
        carried = 0.0
        for suffix, key in reversed(suffixes(context)):
            head_words, head_logp = self._heads[key]
            for w, lp in zip(head_words.tolist(), head_logp.tolist()):
                if w not in words:
                    words[w] = carried + lp
            if suffix:
                carried += self._backoffs[suffix]
        return np.fromiter(words.keys(), dtype=np.int64, count=len(words)), np.fromiter(
            words.values(), dtype=np.float64, count=len(words)
        )

    async def _load(self, contexts: set[tuple[int, ...]]) -> None:
        """Load the heads and backoffs of every suffix of ``contexts``."""
        heads: set[Key] = set()
        backoffs: set[tuple[int, ...]] = set()
        for context in contexts:
            for suffix, key in suffixes(context):
                if key not in self._heads:
                    heads.add(key)
                if suffix and suffix not in self._backoffs:
                    backoffs.add(suffix)
        if heads:
            for key, (words, codes) in (await self.models.heads(self.model.active_build, sorted(heads))).items():
                logp = self.luts[key[0]][codes] if len(codes) else np.zeros(0)
                self._heads[key] = (words[: self.head_size].astype(np.int64), logp[: self.head_size])
        if backoffs:
            await self._load_backoffs(sorted(backoffs))

    async def _load_backoffs(self, contexts: list[tuple[int, ...]]) -> None:
        """log10 backoff of each context (0 for a context not in the model)."""
        n = np.array([len(c) for c in contexts])
        ctx = np.array([hashing.key_of(c[:-1]) for c in contexts], dtype=np.int64)
        word = np.array([c[-1] for c in contexts], dtype=np.int64)
        rows = await self.models.lookup(self.model.active_build, n, ctx, word)
        found = {(int(a), int(b), int(c)): float(d) for a, b, c, d in zip(rows.n, rows.ctx, rows.word, rows.backoff)}
        for context, key in zip(contexts, ctx.tolist()):
            self._backoffs[context] = found.get((len(context), key, context[-1]), 0.0)


class Bounded:
    """A reader's candidates within a vocabulary of ``size`` words. A kept reader is brought
    up to a batch's version in place (what it read stays warm) while replies that started
    before answer from the version before, whose vocabulary lacks the words learned since."""

    def __init__(self, reader: ModelReader, size: int) -> None:
        self.reader, self.size, self.version = reader, size, reader.model.version

    @property
    def model(self) -> ModelInfo:
        return self.reader.model

    async def candidates(self, history: list[int]) -> Distribution:
        found = await self.reader.candidates(history)
        if self.reader.model.version == self.version:
            return found
        known = found.words < self.size
        return found if known.all() else Distribution(found.words[known], found.log10p[known])

    async def prefetch(self, histories: Iterable[list[int]]) -> None:
        await self.reader.prefetch(histories)
