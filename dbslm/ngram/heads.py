"""Top-K heads: a context's K most probable next words, for fast sampling.

Only contexts with more than K continuations get a stored head: a smaller context's rows in
the n-gram table, read by their primary-key prefix, are already its whole head. So every
context's head is one indexed read, and the table holds only what saves work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.text.vocab import NEVER_SAMPLED


@dataclass
class Heads:
    """One order's heads: a context key, then its words (int32) and codes (uint8) as blobs."""

    n: int
    ctx: np.ndarray
    words: list[bytes]
    codes: list[bytes]


def top_k(n: int, ctx_of_row: np.ndarray, parents: np.ndarray, words: np.ndarray,
          logp: np.ndarray, codes: np.ndarray, k: int) -> Heads:
    """The ``k`` best rows, best first, of each context (rows grouped by equal ``parents``)
    that has more than ``k`` candidates. Control tokens other than ``</s>`` are never candidates.
    """
    eligible = np.flatnonzero(~np.isin(words, NEVER_SAMPLED))
    eligible = eligible[np.argsort(parents[eligible], kind="stable")]
    starts, ends = _groups(parents[eligible])
    big = ends - starts > k
    eligible = eligible[np.repeat(big, ends - starts)]
    rows = eligible[np.lexsort((-logp[eligible], parents[eligible]))]
    starts, ends = _groups(parents[rows])
    rank = np.arange(len(rows)) - np.repeat(starts, ends - starts)
    rows = rows[rank < k]
    starts, ends = _groups(parents[rows])
    word_bytes = words[rows].astype("<i4").tobytes()
    code_bytes = codes[rows].astype(np.uint8).tobytes()
    bounds = list(zip(starts.tolist(), ends.tolist()))
    return Heads(n, ctx_of_row[rows[starts]], [word_bytes[4 * a:4 * b] for a, b in bounds],
                 [code_bytes[a:b] for a, b in bounds])


def _groups(sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of equal values."""
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]][: len(sorted_ids)])
    return starts, np.r_[starts[1:], len(sorted_ids)]
