"""Top-K heads: for each context, its K most probable next words, for fast sampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.text.vocab import BOS, UNK


@dataclass
class Heads:
    """One order's heads: a context key, then its words (int32) and codes (uint8) as blobs."""

    n: int
    ctx: np.ndarray
    words: list[bytes]
    codes: list[bytes]


def top_k(n: int, ctx_of_row: np.ndarray, parents: np.ndarray, words: np.ndarray,
          logp: np.ndarray, codes: np.ndarray, k: int) -> Heads:
    """The ``k`` best rows of each context (grouped by ``parents``), best first.

    ``<s>`` and ``<unk>`` are never candidates.
    """
    eligible = (words != BOS) & (words != UNK)
    rows = np.flatnonzero(eligible)
    rows = rows[np.lexsort((-logp[rows], parents[rows]))]
    group_parent = parents[rows]
    starts = np.flatnonzero(np.r_[True, group_parent[1:] != group_parent[:-1]])
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    rows = rows[rank < k]
    bounds = np.flatnonzero(np.r_[True, parents[rows][1:] != parents[rows][:-1]])
    split_at = bounds[1:]
    word_blobs = [a.tobytes() for a in np.split(words[rows].astype("<i4"), split_at)]
    code_blobs = [a.tobytes() for a in np.split(codes[rows].astype(np.uint8), split_at)]
    return Heads(n, ctx_of_row[rows[bounds]], word_blobs, code_blobs)
