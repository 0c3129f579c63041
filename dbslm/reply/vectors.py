"""Word vectors counted from dialog pairs: which words go together in a prompt and its reply.

Two words co-occur when one pair (prompt and response together) holds both. The
co-occurrence counts are weighted by positive pointwise mutual information (context counts
smoothed to the power 0.75) and reduced to ``DIMENSIONS`` by a truncated SVD, each word's row
scaled by the square root of the singular values (Levy, Goldberg & Dagan 2015). A sentence's
vector is the sum of its words' rows weighted by inverse document frequency; how well a
response answers a prompt is the cosine of their vectors. Nothing here runs at reply time
but a look-up and a dot product: the vectors are computed when the model's pairs change and
stored as rows (``word_vectors``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported where vectors are counted: it takes a fifth of a command's start
    import scipy.sparse as sparse

DIMENSIONS = 128
MIN_PAIRS = 2  # a word in fewer pairs gets no vector
MAX_WORD_CHARS = 64  # longer "words" (pasted hashes, links) get none either
CONTEXT_SMOOTHING = 0.75
POWER_ITERATIONS = 2
COMMON = 0.05  # a word in more than this share of the pairs is too common to search for
COMMON_WEIGHT = float(np.log(2.0 / COMMON))  # the weight (idf) of such a word, at most


@dataclass(frozen=True)
class WordVectors:
    """Unit-free word rows and their inverse document frequencies."""

    words: list[str]
    weights: np.ndarray  # float32, one per word: log(2 * pairs / (1 + pairs with the word))
    matrix: np.ndarray  # float32, (len(words), dims)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})

    def rarest(self, words: Iterable[str], limit: int, common: bool = False) -> list[str]:
        """Up to ``limit`` of ``words``, rarest first (a word without a vector is rarer than
        any), without those in more than COMMON of the pairs (they find nearly every pair)
        unless ``common``."""
        index: dict[str, int] = self.index  # type: ignore[attr-defined]
        ranked = sorted(set(words), key=lambda w: (-self.weights[index[w]] if w in index else -np.inf, w))
        return [w for w in ranked if common or w not in index or self.weights[index[w]] > COMMON_WEIGHT][:limit]

    def sentence(self, words: Sequence[str]) -> np.ndarray:
        """The unit vector of a word list (zeros when none of its words has a vector)."""
        return self.sentences([words])[0]

    def sentences(self, texts: Sequence[Sequence[str]]) -> np.ndarray:
        """One unit row per word list."""
        index: dict[str, int] = self.index  # type: ignore[attr-defined]
        out = np.zeros((len(texts), self.matrix.shape[1] if len(self.words) else 1), dtype=np.float32)
        for row, words in enumerate(texts):
            ids = [index[w] for w in words if w in index]
            if ids:
                out[row] = self.weights[ids] @ self.matrix[ids]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


EMPTY = WordVectors([], np.zeros(0, np.float32), np.zeros((0, 1), np.float32))


def count_vectors(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    dims: int = DIMENSIONS,
    min_pairs: int = MIN_PAIRS,
    seed: int = 0,
) -> WordVectors:
    """Word vectors from ``pairs`` of word lists (prompt, response), lower-cased words only.

    Deterministic for a given input and ``seed``."""
    bags = [set(prompt) | set(response) for prompt, response in pairs]
    frequency = Counter(chain.from_iterable(bags))  # pairs with the word
    words = sorted(w for w, n in frequency.items() if n >= min_pairs and len(w) <= MAX_WORD_CHARS)
    if len(words) < 2:
        return EMPTY
    docs = presence(bags, {w: i for i, w in enumerate(words)}, np.float32)
    matrix = _ppmi((docs.T @ docs).tocsr())
    k = min(dims, len(words) - 1)
    left, singular = _truncated_svd(matrix, k, seed)
    vectors = (left * np.sqrt(singular)).astype(np.float32)
    df = np.array([frequency[w] for w in words], dtype=np.float64)
    weights = np.log(2.0 * len(bags) / (1.0 + df)).astype(np.float32)
    return WordVectors(words, weights, vectors)


def presence(bags: Sequence[Collection[str]], index: dict[str, int], dtype: type = np.float64) -> sparse.csr_matrix:
    """One row per bag of words, with a 1 in the column ``index`` gives each of its words
    (words ``index`` lacks are left out)."""
    import scipy.sparse as sparse

    columns = np.fromiter(map(index.get, chain.from_iterable(bags), repeat(-1)), dtype=np.int64)
    rows = np.repeat(np.arange(len(bags)), np.fromiter(map(len, bags), dtype=np.int64, count=len(bags)))
    known = columns >= 0
    return sparse.csr_matrix(
        (np.ones(int(known.sum()), dtype), (rows[known], columns[known])), shape=(len(bags), len(index))
    )


def _ppmi(cooc: sparse.csr_matrix) -> sparse.csr_matrix:
    """Positive PMI of the off-diagonal co-occurrence counts ``cooc``, context counts smoothed
    by CONTEXT_SMOOTHING, as float32 (the precision the vectors are stored in): computed in
    place on the matrix's own entries, which are dropped where not positive."""
    rows = np.repeat(np.arange(cooc.shape[0]), np.diff(cooc.indptr))
    cols = cooc.indices
    counts = np.where(rows != cols, cooc.data, 0.0).astype(np.float64)
    total = counts.sum()
    if not total:  # no two words share a pair: no weight is positive
        import scipy.sparse as sparse

        return sparse.csr_matrix(cooc.shape, dtype=np.float32)
    row_sums = np.bincount(rows, counts, cooc.shape[0])
    context = np.bincount(cols, counts, cooc.shape[0]) ** CONTEXT_SMOOTHING
    context *= total / context.sum()
    with np.errstate(divide="ignore", invalid="ignore"):  # the diagonal: log 0 (or 0/0), dropped below
        pmi = np.log(counts * total / (row_sums[rows] * context[cols]))
    cooc.data = np.where(pmi > 0, pmi, 0.0).astype(np.float32)
    cooc.eliminate_zeros()
    return cooc


def _truncated_svd(matrix: sparse.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` left singular vectors and values (randomized range finder, Halko et al. 2011),
    in the matrix's precision."""
    rng = np.random.default_rng(seed)
    basis = matrix @ rng.standard_normal((matrix.shape[1], k + 10)).astype(matrix.dtype)
    for _ in range(POWER_ITERATIONS):
        basis, _ = np.linalg.qr(basis)
        basis = matrix @ (matrix.T @ basis)
    basis, _ = np.linalg.qr(basis)
    small = np.asarray((matrix.T @ basis).T)
    u, s, _ = np.linalg.svd(small, full_matrices=False)
    return (basis @ u)[:, :k], s[:k]
