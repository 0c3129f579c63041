"""The rows of a build in count form: what MKN needs, from which every probability is computed.

Each n-gram keeps its raw and adjusted count. A context (the words before a position, per order
and context key, the empty context included) that more than K words follow keeps a row: the
sum of its words' adjusted counts, how many have 1, 2 and 3 or more, and the K of highest
adjusted count (ties: lowest word id) as its head. Any other context's statistics are sums over
its few n-gram rows, which readers take whole. Each order keeps its counts-of-counts and
discounts. Nothing here depends on another context's probabilities, so a batch of text changes
only the rows of the n-grams and contexts it contains (and the discounts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dbslm.ngram import hashing
from dbslm.ngram.counting import OrderCounts
from dbslm.ngram.heads import Heads, top_k
from dbslm.ngram.kneser_ney import (
    ContextStats,
    Discount,
    adjusted_of,
    context_stats,
    order_discount,
    suffix_rows_of,
    with_unk,
)


@dataclass
class CountOrder:
    """All n-grams of one order: context key, word, raw and adjusted count, in counting's
    order (by the row of their first n-1 words, then by word)."""

    n: int
    ctx: np.ndarray
    word: np.ndarray
    count: np.ndarray
    adjusted: np.ndarray


@dataclass
class ContextRows:
    """The contexts that n-grams of order ``n`` follow (keys of their first n-1 words), with
    their statistics and the heads of those that have one."""

    n: int
    ctx: np.ndarray
    stats: ContextStats
    heads: Heads  # adjusted counts as int32 blobs


@dataclass
class CountTables:
    """Everything one count-form build writes, from its ``counts`` (``<unk>`` included), as
    :meth:`parts`: per order its n-grams and contexts, then the discounts of every order
    (``Discount.ngrams`` holds the order's row count: the unigrams' is the uniform share's)."""

    counts: list[OrderCounts]
    head_size: int  # K: a context with more words than this has a head of its K best

    @property
    def order(self) -> int:
        return len(self.counts)

    @property
    def sizes(self) -> dict[int, int]:
        """The n-grams of each order."""
        return {i + 1: len(c.keys) for i, c in enumerate(self.counts)}

    def parts(self) -> Iterator[CountOrder | ContextRows | list[Discount]]:
        """The tables an order at a time from the unigrams up, each computed when it is asked
        for: a writer stores one while the next is computed."""
        counts, discounts = self.counts, []
        below = np.zeros(0, dtype=np.int64)  # the suffix rows of the order at hand
        own_below = np.full(1, hashing.EMPTY_KEY, dtype=np.int64)  # the own keys of the order below it
        for i, oc in enumerate(counts):
            above = suffix_rows_of(counts, i + 1, below) if i + 1 < len(counts) else None
            a = adjusted_of(counts, i, above)
            parents, ctx = oc.parents, own_below[oc.parents]  # parents sorted, as the keys are
            yield CountOrder(i + 1, ctx, oc.words, oc.counts, a)
            used = parents[np.diff(parents, prepend=-1) != 0]  # the contexts some word follows
            stats = context_stats(parents, a, 1 if i == 0 else len(counts[i - 1].keys)).take(used)
            keys = np.full(1, hashing.EMPTY_KEY, dtype=np.int64) if i == 0 else own_below[used]
            heads = top_k(i + 1, ctx, parents, oc.words, a, a.astype("<i4"), self.head_size)
            yield ContextRows(i + 1, keys, stats, heads)
            discounts.append(order_discount(i + 1, a))
            below, own_below = above, hashing.extend_array(ctx, oc.words)
        yield discounts


def count_tables(counts: list[OrderCounts], head_size: int) -> CountTables:
    """The count-form tables of ``counts`` (``<unk>`` is added as KenLM has it)."""
    return CountTables(with_unk(counts), head_size)
