"""The rows of a build in probability form (an ARPA import), and the keys that tie stored rows
to the counting layout. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dbslm.ngram import hashing
from dbslm.ngram.counting import SHIFT, OrderCounts
from dbslm.ngram.heads import Heads
from dbslm.ngram.kneser_ney import Discount


@dataclass
class OrderTable:
    """All n-grams of one order: context key, word, raw count, log10 p, backoff, code."""

    n: int
    ctx: np.ndarray
    word: np.ndarray
    count: np.ndarray
    logp: np.ndarray
    backoff: np.ndarray | None
    code: np.ndarray
    lut: np.ndarray


@dataclass
class ModelTables:
    """Everything one build writes: per-order tables, heads and discounts."""

    orders: list[OrderTable]
    heads: list[Heads]
    discounts: list[Discount]

    @property
    def order(self) -> int:
        return len(self.orders)


def context_keys(counts: list[OrderCounts]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per order, each row's context key and its own key (the key of the whole n-gram)."""
    ctx_keys, own_keys = [], []
    previous = np.full(1, hashing.EMPTY_KEY, dtype=np.int64)
    for order in counts:
        ctx = previous[order.parents]
        own = hashing.extend_array(ctx, order.words)
        ctx_keys.append(ctx)
        own_keys.append(own)
        previous = own
    return ctx_keys, own_keys


def parent_rows(ctxs: list[np.ndarray], words: list[np.ndarray]) -> list[np.ndarray]:
    """For stored rows of orders 1..N (context keys and words), each row's parent: the row of
    the previous order whose own key is its context key (0 for unigrams)."""
    parents = [np.zeros(len(words[0]), dtype=np.int64)]
    own = hashing.extend_array(ctxs[0], words[0])
    for ctx, word in zip(ctxs[1:], words[1:]):
        rows, found = hashing.locate(own, ctx)
        if not found.all():
            raise ValueError("stored n-grams are inconsistent: a context has no n-gram of its own")
        parents.append(rows)
        own = hashing.extend_array(ctx, word)
    return parents


def counts_from_rows(orders: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[OrderCounts]:
    """The counting layout from stored rows (context key, word, count) per order.

    Rows with count 0 (``<unk>``) are left out, as counting never produces them.
    """
    kept = [(ctx[count > 0], word[count > 0], count[count > 0]) for ctx, word, count in orders]
    parents = parent_rows([k[0] for k in kept], [k[1] for k in kept])
    counts: list[OrderCounts] = []
    rank = np.zeros(1, dtype=np.int64)
    for (_, word, count), parent in zip(kept, parents):
        keys = (rank[parent] << SHIFT) | word
        rows = np.argsort(keys)
        rank = np.empty_like(rows)
        rank[rows] = np.arange(len(rows))
        counts.append(OrderCounts(keys[rows], count[rows]))
    return counts
