"""Top-K heads: a context's K most probable next words, for fast sampling.

Only contexts with more than K continuations get a stored head: a smaller context's rows in
the n-gram table, read by their primary-key prefix, are already its whole head. So every
context's head is one indexed read, and the table holds only what saves work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.ngram.counting import runs
from dbslm.text.vocab import NEVER_SAMPLED

DEFAULT_HEAD_SIZE = 32


@dataclass
class Heads:
    """One order's heads: a context key, then its words (int32) and their values (8-bit codes,
    or int32 adjusted counts) as blobs."""

    n: int
    ctx: np.ndarray
    words: list[bytes]
    codes: list[bytes]


def top_k(
    n: int,
    ctx_of_row: np.ndarray,
    parents: np.ndarray,
    words: np.ndarray,
    score: np.ndarray,
    values: np.ndarray,
    k: int,
) -> Heads:
    """The ``k`` rows of highest ``score``, best first (ties in row order), of each context
    (rows grouped by equal ``parents``) that has more than ``k`` candidates, with their
    ``values`` (whose dtype the blobs keep). Control tokens other than ``</s>`` are never
    candidates."""
    eligible = np.flatnonzero(~np.isin(words, NEVER_SAMPLED))
    if (np.diff(parents[eligible]) < 0).any():  # counting's rows are grouped already; an import's may not be
        eligible = eligible[np.argsort(parents[eligible], kind="stable")]
    starts, ends = runs(parents[eligible])
    big = ends - starts > k
    eligible = eligible[np.repeat(big, ends - starts)]
    rows = eligible[np.lexsort((-score[eligible], parents[eligible]))]
    starts, ends = runs(parents[rows])
    rank = np.arange(len(rows)) - np.repeat(starts, ends - starts)
    rows = rows[rank < k]
    starts, ends = runs(parents[rows])
    word_bytes = words[rows].astype("<i4").tobytes()
    value_bytes, size = values[rows].tobytes(), values.dtype.itemsize
    bounds = list(zip(starts.tolist(), ends.tolist()))
    return Heads(
        n,
        ctx_of_row[rows[starts]],
        [word_bytes[4 * a : 4 * b] for a, b in bounds],
        [value_bytes[size * a : size * b] for a, b in bounds],
    )
