"""Finding earlier prompts like the current one, to pull their responses into the cache.

The database's full-text index (SQLite FTS5, MariaDB FULLTEXT) finds candidates; they are
reranked by the cosine of hashed bag-of-words vectors, a deterministic stand-in for sentence
embeddings that needs no model download.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

DIMENSIONS = 512


def words_of(tokens: Iterable[str]) -> list[str]:
    """The lower-cased word tokens (letters or digits) of a token list."""
    return [t.lower() for t in tokens if any(ch.isalnum() for ch in t)]


def hashed_vector(tokens: Iterable[str]) -> np.ndarray:
    """A unit vector of hashed word counts (stable across processes)."""
    vector = np.zeros(DIMENSIONS)
    for word in words_of(tokens):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % DIMENSIONS
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Cosine of the hashed vectors of two token lists (0 when either has no words)."""
    return float(hashed_vector(a) @ hashed_vector(b))
