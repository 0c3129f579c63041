"""The peers a dialog benchmark runs beside dbslm, on the same pairs: TF-IDF nearest-prompt
retrieval and a Markov chain (markovify), and the judge of the ranking measure."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np

from dbslm import metrics
from dbslm.memory.embedding import BUNDLED, SentenceEmbedder, sentence_models_installed

Pair = tuple[str, str]


class Retrieval:
    """TF-IDF nearest prompt; answers with that prompt's response."""

    def __init__(self, train: list[Pair]) -> None:
        self.responses = [r for _, r in train]
        docs = [Counter(metrics.words(p)) for p, _ in train]
        df = Counter(w for d in docs for w in d)
        self.idf = {w: math.log((1 + len(docs)) / (1 + c)) + 1 for w, c in df.items()}
        self.vectors = [self._vector(d) for d in docs]

    def _vector(self, counts: Counter) -> dict[str, float]:
        v = {w: c * self.idf.get(w, 0.0) for w, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    def reply(self, prompt: str) -> str:
        q = self._vector(Counter(metrics.words(prompt)))
        scores = [sum(x * v.get(w, 0.0) for w, x in q.items()) for v in self.vectors]
        return self.responses[int(np.argmax(scores))] if scores else ""


class Markov:
    """markovify over the training responses (state size 2); a reply starts from a word of
    the prompt the chain knows, when one does, else anywhere."""

    def __init__(self, train: list[Pair]) -> None:
        import markovify
        from markovify.text import ParamError

        self.errors = (KeyError, ParamError)  # a start word the chain cannot begin with
        self.chain = markovify.NewlineText("\n".join(r for _, r in train), state_size=2, well_formed=False)
        self.random = random.Random(0)

    def reply(self, prompt: str) -> str:
        random.seed(self.random.random())  # markovify draws from the module's generator
        for word in sorted(set(prompt.split()), key=lambda w: (-len(w), w))[:3]:
            try:
                sentence = self.chain.make_sentence_with_start(word, strict=False, tries=20)
            except self.errors:
                sentence = None
            if sentence:
                return sentence
        return self.chain.make_sentence(tries=100) or ""


class Judge:
    """The ranking measure (docs/evaluation.md) over one test set's references."""

    def __init__(self, references: list[str]) -> None:
        self.model = SentenceEmbedder(BUNDLED)
        self.references = self.model.encode(references)

    def reciprocal_ranks(self, replies: list[str], prompts: list[str]) -> np.ndarray:
        return metrics.reciprocal_ranks(self.model.encode(replies), self.references, replies, prompts)


def judge_or_none(references: list[str]) -> Judge | None:
    """The judge, when the embeddings extra is installed."""
    if not sentence_models_installed():
        return None
    return Judge(references)
