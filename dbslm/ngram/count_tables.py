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

from dataclasses import dataclass

import numpy as np

from dbslm.ngram import hashing
from dbslm.ngram.counting import OrderCounts
from dbslm.ngram.heads import Heads, top_k
from dbslm.ngram.kneser_ney import (
    ContextStats,
    Discount,
    adjusted_counts,
    context_stats,
    discounts,
    suffix_rows,
    with_unk,
)
from dbslm.ngram.tables import context_keys


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
    """Everything one count-form build writes: per order its n-grams, contexts and discounts
    (``Discount.ngrams`` holds the order's row count: the unigrams' is the uniform share's)."""

    orders: list[CountOrder]
    contexts: list[ContextRows]
    discounts: list[Discount]
    head_size: int  # K: a context with more words than this has a head of its K best

    @property
    def order(self) -> int:
        return len(self.orders)


def count_tables(counts: list[OrderCounts], head_size: int) -> CountTables:
    """The count-form rows of ``counts`` (``<unk>`` is added as KenLM has it)."""
    counts = with_unk(counts)
    adjusted = adjusted_counts(counts, suffix_rows(counts))
    ctx_keys, own_keys = context_keys(counts)
    orders, contexts = [], []
    for i, (oc, a) in enumerate(zip(counts, adjusted)):
        orders.append(CountOrder(i + 1, ctx_keys[i], oc.words, oc.counts, a))
        parents = oc.parents  # sorted, as the keys are
        used = parents[np.diff(parents, prepend=-1) != 0]  # the contexts some word follows
        stats = context_stats(parents, a, 1 if i == 0 else len(counts[i - 1].keys)).take(used)
        keys = np.full(1, hashing.EMPTY_KEY, dtype=np.int64) if i == 0 else own_keys[i - 1][used]
        heads = top_k(i + 1, ctx_keys[i], parents, oc.words, a, a.astype("<i4"), head_size)
        contexts.append(ContextRows(i + 1, keys, stats, heads))
    return CountTables(orders, contexts, discounts(adjusted), head_size)
