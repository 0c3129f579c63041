"""Fitting the ranking's prompt weight to a model's own pairs when its vectors are counted.

How much a learned response's prompt matching should count differs by corpus: in chit-chat
the response's topic matters most, in question/answer sets the question it answered. Each of
up to ``SAMPLES`` of the model's pairs (a fixed random sample) becomes a query: its prompt
ranks the candidates the index finds (the pair itself, its exact response and echoes left
out) with each weight of ``GRID``, and the weight whose first choices are closest to the true
responses (the mean cosine of their word vectors) is kept. The vectors were counted with the
sampled pairs in them, a leak that is small when a model has thousands of pairs and that the
candidates' exclusion keeps from choosing the pair itself.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np

from dbslm.memory.retrieval import words_of
from dbslm.metrics import word_f1
from dbslm.reply.ranking import ECHO, Ranker

SAMPLES = 300
GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
MIN_QUERIES = 30  # fewer usable queries fit nothing: the default stays


async def fit_prompt_weight(ranker: Ranker, pairs: list[tuple[int, str, str]]) -> float | None:
    """The weight of :data:`GRID` that best predicts held-out responses of ``pairs`` (id,
    prompt, response), or None when too few of them can be queries."""
    sample = random.Random(0).sample(sorted(pairs), min(SAMPLES, len(pairs)))  # the same, however they were read
    totals = np.zeros(len(GRID))
    queries = 0
    for pair_id, prompt, response in sample:
        words, truth = words_of(ranker.tokenize(prompt)), words_of(ranker.tokenize(response))
        if not words or not truth:
            continue
        found, calls = await asyncio.gather(ranker.candidates(words), ranker.calls(words))
        candidates = [
            c for c in found if c.pair_id != pair_id and c.response != response and word_f1(c.words, words) < ECHO
        ]
        if not candidates:
            continue
        responses = ranker.vectors.sentences([c.words for c in candidates])  # once, for both queries
        unweighted, match = ranker.unweighted(words, candidates, calls, responses @ ranker.vectors.sentence(words))
        closeness = responses @ ranker.vectors.sentence(truth)
        totals += [closeness[int(np.argmax(unweighted + weight * match))] for weight in GRID]
        queries += 1
    if queries < MIN_QUERIES:
        return None
    return GRID[int(np.argmax(totals))]  # the first of equals: the smallest weight
