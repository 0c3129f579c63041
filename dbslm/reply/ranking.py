"""Choosing the learned responses that answer a message, for the pointer cache.

Candidates come from the full-text index twice: responses that share the message's words
(a reply on its topic) and responses to prompts that share them (what was said to a message
like this). Each candidate is scored by how well its response answers the message: the
cosine of their word vectors (:mod:`dbslm.reply.vectors`, or a sentence model's with the
embeddings extra), plus its content's fit to the message (how strongly the message's words
call for the response's, in the model's ``reply_words``, and how much of the message's
weight of words it takes up), plus a share of how closely its prompt matches (the profile's
``prompt_weight``, fit per model: :mod:`dbslm.reply.fitting`), plus a bonus that grows
with its prompt's word F1 beyond ``PARAPHRASE`` (an answer to a paraphrase of the message),
plus one more when its prompt has exactly the message's words (a learned answer to this very
question: those share the lead; in a community, its own answers to it, if any, replace its
base's). Other responses that mostly repeat the message (word F1 at least ``ECHO``) are never
chosen.
Measured on held-out human conversations in bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dbslm.memory.embedding import Embedder, from_blob, to_blob
from dbslm.memory.retrieval import words_of
from dbslm.metrics import word_f1
from dbslm.recent import Recent
from dbslm.reply.vectors import WordVectors
from dbslm.store.pairs import PairStore

RESPONSE_CANDIDATES = 50  # pairs whose response shares the message's words
PROMPT_CANDIDATES = 20  # pairs whose prompt does
QUERY_WORDS = 16  # the message's rarest words search the index (common ones match nearly every pair)
CALLING_WORDS = 32  # the message's rarest words whose reply words are read
ASSOCIATION = 0.1  # the weight of the mean reply-word score of a response's words (discounted PMI, about 0-6)
MENTION = 0.1  # the weight of the share of the message's word weight (idf) a response takes up
RETRIEVED = 3  # responses that enter the cache
SAME_PROMPT = 1.0  # the bonus of a candidate whose prompt has exactly the message's words
PARAPHRASE = 0.5  # a prompt whose word F1 with the message is above this is a paraphrase of it
ECHO = 0.5  # a response whose word F1 with the message reaches this only repeats it
WORD_CACHE = 20_000  # texts whose words a ranker keeps
VECTOR_CACHE = 4_096  # responses whose word-vector sentence a ranker keeps (512 bytes each)
RANKED_CACHE = 4_096  # messages whose ranked responses a ranker keeps (a few hundred bytes each)
CALLED_CACHE = 8_192  # words whose reply words a ranker keeps (up to 20 each)
SHARPNESS = 100.0  # cache weight = exp(SHARPNESS * (score - best score)): 0.01 behind the best weighs 0.37
Hit = tuple[int, int, str, str, float]  # a pair found: id, model id, prompt, response, index score
Search = Callable[[Sequence[int], list[str], int, str], Awaitable[list[Hit]]]  # PairStore's two ways to find pairs


@dataclass(frozen=True)
class Candidate:
    pair_id: int
    model_id: int
    prompt: list[str]  # lower-cased words
    response: str
    words: list[str]  # the response's lower-cased words
    index_score: float


class Ranker:
    """Ranks the learned responses of one version of its models' pairs (they change only in a
    build's switch, and a replier makes a new ranker for each version): the ranking of a
    message is kept for the next message with the same words (the same text, with a sentence
    model)."""

    def __init__(
        self,
        pairs: PairStore,
        vectors: WordVectors,
        embedder: Embedder | None,
        model_ids: tuple[int, ...],
        tokenize: Callable[[str], list[str]],
        prompt_weight: float,
    ) -> None:
        """Rank the pairs of the models ``model_ids`` (a community's and its base's) with
        ``vectors``, or with a sentence model's vectors when ``embedder`` is given."""
        self.prompt_weight = prompt_weight
        self.pairs = pairs
        self.vectors = vectors
        self.embedder = embedder
        self.model_ids = model_ids
        self.tokenize = tokenize
        self.words = lru_cache(maxsize=WORD_CACHE)(lambda text: words_of(tokenize(text)))  # pairs recur
        self.vector = lru_cache(maxsize=VECTOR_CACHE)(lambda text: vectors.sentence(self.words(text)))
        self._ranked: Recent[tuple[str, tuple[str, ...]], list[tuple[str, float]]] = Recent(RANKED_CACHE)
        self._called: Recent[str, dict[str, float]] = Recent(CALLED_CACHE)  # a word's reply words and scores

    async def responses(self, prompt: str, tokens: list[str]) -> list[tuple[str, float]]:
        """Up to RETRIEVED distinct (response, cache weight), the best answer first with weight 1
        (kept: the caller must not change the list)."""
        words = words_of(tokens)
        if not words:
            return []
        key = (prompt if self.embedder is not None else "", tuple(words))
        ranked = self._ranked.get(key)
        if ranked is None:
            ranked = self._ranked[key] = await self._responses(prompt, words)
        return ranked

    async def _responses(self, prompt: str, words: list[str]) -> list[tuple[str, float]]:
        key = sorted(words)
        candidates, same = [], []
        found, calls = await asyncio.gather(self.candidates(words), self.calls(words))
        for candidate in found:
            learned = sorted(candidate.prompt) == key  # an answer to this very question is no echo
            if learned or word_f1(candidate.words, words) < ECHO:
                candidates.append(candidate)
                same.append(learned)
        if not candidates:
            return []
        if len(self.model_ids) > 1:  # a community: its own answers to this very question replace its base's
            own = [c.model_id == self.model_ids[0] for c in candidates]
            if any(s and o for s, o in zip(same, own)):
                kept = [i for i, (s, o) in enumerate(zip(same, own)) if o or not s]
                candidates, same = [candidates[i] for i in kept], [same[i] for i in kept]
        unweighted, match = self.unweighted(words, candidates, calls, await self._relevance(prompt, words, candidates))
        scores = unweighted + self.prompt_weight * match + SAME_PROMPT * np.array(same)
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], -candidates[i].index_score, i))
        best = scores[order[0]]
        ranked: dict[str, float] = {}  # a response learned more than once takes one place, at its best
        for i in order:
            if candidates[i].response not in ranked:
                # the learned answers to this very question share the lead; others fade with their score
                ranked[candidates[i].response] = 1.0 if same[i] else float(np.exp(SHARPNESS * (scores[i] - best)))
                if len(ranked) == RETRIEVED:
                    break
        return list(ranked.items())

    def relevance(self, words: list[str], candidates: list[Candidate]) -> np.ndarray:
        """The cosines of the message's and the candidates' word vectors."""
        return np.stack([self.vector(c.response) for c in candidates]) @ self.vectors.sentence(words)

    def unweighted(
        self, words: list[str], candidates: list[Candidate], calls: dict[str, float], relevance: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each candidate's score but the prompt weight's share (``relevance`` plus the content
        terms and the paraphrase bonus), and its prompt match, which that weight multiplies."""
        match = prompt_match(candidates, words)
        return relevance + self.content(words, candidates, calls) + paraphrase_bonus(match), match

    async def calls(self, words: list[str]) -> dict[str, float]:
        """The reply words the message's words call for, each with its best score (each word's
        read once and kept: words recur far more than messages)."""
        asked = self.vectors.rarest(words, CALLING_WORDS, common=True)
        unknown = [w for w in asked if w not in self._called]
        if unknown:
            found = await self.pairs.reply_words_of(self.model_ids, unknown)
            for word in unknown:
                self._called[word] = found.get(word, {})
        best: dict[str, float] = {}
        for word in asked:
            for reply_word, score in self._called.get(word, {}).items():  # the read of another may have pushed it out
                if score > best.get(reply_word, 0.0):
                    best[reply_word] = score
        return best

    def content(self, words: list[str], candidates: list[Candidate], calls: dict[str, float]) -> np.ndarray:
        """How well each candidate's words fit the message's: ASSOCIATION times the mean score
        the message gives its words (``calls``), plus MENTION times the share of the message's
        word weight it takes up."""
        weights, index = self.vectors.weights, self.vectors.index  # type: ignore[attr-defined]
        asked = {w: float(weights[index[w]]) for w in set(words) if w in index}
        total = sum(asked.values()) or 1.0
        scores = np.zeros(len(candidates))
        for i, c in enumerate(candidates):
            said = set(c.words)
            if said:
                called = sum(calls[w] for w in said & calls.keys()) / len(said)
                scores[i] = ASSOCIATION * called + MENTION * sum(asked[w] for w in said & asked.keys()) / total
        return scores

    async def candidates(self, words: list[str]) -> list[Candidate]:
        """Pairs whose response or prompt shares the rarest of ``words`` in the full-text index
        (common words too when the others find nothing), each once; for a message of words the
        index skips, pairs that hold them."""
        rare = self.vectors.rarest(words, QUERY_WORDS)
        hits = await self._search(rare, self.pairs.search_pairs) if rare else []
        if not hits:
            hits = await self._search(self.vectors.rarest(words, QUERY_WORDS, common=True), self.pairs.search_pairs)
        if not hits:  # MariaDB's index skips short words and stopwords ("is it so?"): a substring match
            hits = await self._search(words, self.pairs.pairs_containing)
        found: dict[int, Candidate] = {}
        for pair_id, model_id, prompt, response, score in hits:
            if pair_id not in found:
                found[pair_id] = Candidate(pair_id, model_id, self.words(prompt), response, self.words(response), score)
        return list(found.values())

    async def _search(self, words: list[str], find: Search) -> list[Hit]:
        """The pairs ``find`` gives for their response, then for their prompt (asked at once)."""
        by_response, by_prompt = await asyncio.gather(
            find(self.model_ids, words, RESPONSE_CANDIDATES, "response"),
            find(self.model_ids, words, PROMPT_CANDIDATES, "prompt"),
        )
        return by_response + by_prompt

    async def _relevance(self, prompt: str, words: list[str], candidates: list[Candidate]) -> np.ndarray:
        """How well each candidate's response answers the message: a cosine in [-1, 1]."""
        if self.embedder is not None:
            query = (await asyncio.to_thread(self.embedder.encode, [prompt]))[0]
            return await self._response_vectors(candidates) @ query
        return self.relevance(words, candidates)

    async def _response_vectors(self, candidates: list[Candidate]) -> np.ndarray:
        """The sentence model's vectors of the candidates' responses, stored on first use."""
        assert self.embedder is not None
        stored = await self.pairs.pair_vectors(self.embedder.name, [c.pair_id for c in candidates])
        missing = [c for c in candidates if c.pair_id not in stored]
        if missing:
            made = await asyncio.to_thread(self.embedder.encode, [c.response for c in missing])
            fresh = {c.pair_id: to_blob(v) for c, v in zip(missing, made)}
            await self.pairs.save_pair_vectors(self.embedder.name, fresh)
            stored.update(fresh)
        return np.stack([from_blob(stored[c.pair_id]) for c in candidates])


def prompt_match(candidates: list[Candidate], words: list[str]) -> np.ndarray:
    """The word F1 of each candidate's prompt with the message."""
    return np.array([word_f1(c.prompt, words) for c in candidates])


def paraphrase_bonus(match: np.ndarray) -> np.ndarray:
    """The bonus of candidates whose prompt F1 ``match`` makes them answers to a paraphrase of
    the message: 0 up to PARAPHRASE, rising linearly to SAME_PROMPT at F1 1 ("how are you
    today" finds the answers to "how are you doing")."""
    return SAME_PROMPT * np.clip((match - PARAPHRASE) / (1 - PARAPHRASE), 0.0, None)
