"""The stored word vectors of a model: recounted from its pairs, read back for replies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from dbslm.memory.retrieval import words_of
from dbslm.reply.vectors import EMPTY, WordVectors, count_vectors
from dbslm.store.level2 import Level2Store


async def refresh_vectors(level2: Level2Store, model_id: int, tokenize: Callable[[str], list[str]]) -> int:
    """Recount the word vectors of a model from every pair it holds now (in a worker thread)
    and replace the stored ones; returns how many words have a vector."""
    pairs = await level2.pair_texts(model_id)

    def count() -> WordVectors:
        return count_vectors([(words_of(tokenize(p)), words_of(tokenize(r))) for p, r in pairs])

    vectors = await asyncio.to_thread(count)
    await level2.save_word_vectors(model_id, vectors.words, vectors.weights.tolist(),
                                   [row.tobytes() for row in vectors.matrix])
    return len(vectors.words)


async def load_vectors(level2: Level2Store, model_id: int) -> WordVectors:
    """A model's stored word vectors (:data:`EMPTY` when it has none)."""
    rows = await level2.word_vectors(model_id)
    if not rows:
        return EMPTY
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return WordVectors([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32), matrix)
