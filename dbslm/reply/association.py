"""The stored word vectors of a model: recounted from its pairs, read back for replies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from dbslm.decoder import DecodeSettings
from dbslm.memory.retrieval import words_of
from dbslm.reply.fitting import fit_prompt_weight
from dbslm.reply.ranking import Ranker
from dbslm.reply.vectors import EMPTY, WordVectors, count_vectors
from dbslm.store.level2 import Level2Store

MAX_PAIRS = 200_000  # the newest pairs the vectors are counted from: time and memory stay bounded


async def refresh_vectors(level2: Level2Store, model_id: int, tokenize: Callable[[str], list[str]],
                          fit: bool = True) -> int:
    """Recount the word vectors of a model from the pairs it holds now (the newest MAX_PAIRS,
    in a worker thread), replace the stored ones and (with ``fit``) fit its profiles'
    ``prompt_weight`` to its pairs; returns how many words have a vector."""
    pairs = await level2.pair_texts(model_id, MAX_PAIRS)

    def count() -> WordVectors:
        return count_vectors([(words_of(tokenize(p)), words_of(tokenize(r))) for _, p, r in pairs])

    vectors = await asyncio.to_thread(count)
    await level2.save_word_vectors(model_id, vectors.words, vectors.weights.tolist(),
                                   [row.tobytes() for row in vectors.matrix])
    if not fit:
        return len(vectors.words)
    defaults = asdict(DecodeSettings())
    ranker = Ranker(level2, vectors, None, (model_id,), tokenize, defaults["prompt_weight"])
    weight = await fit_prompt_weight(ranker, pairs)
    if weight is not None:
        await level2.set_fitted(model_id, "prompt_weight", weight, defaults)
    return len(vectors.words)


async def load_vectors(level2: Level2Store, model_id: int) -> WordVectors:
    """A model's stored word vectors (:data:`EMPTY` when it has none)."""
    rows = await level2.word_vectors(model_id)
    if not rows:
        return EMPTY
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return WordVectors([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32), matrix)
