"""Reading top-K heads and contexts, from the local tables or from the cold tier (same shape,
other names)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dbslm.ngram.count_probs import Context
from dbslm.store.database import Database, fetch_keyed
from dbslm.text.vocab import NEVER_SAMPLED

Head = tuple[np.ndarray, np.ndarray]
CONTEXT_STATS = "g.total, g.n1, g.n2, g.n3"


async def read_heads(
    db: Database, heads_table: str, ngrams_table: str, contexts: Sequence[tuple[int, int]], where: str, params: Sequence
) -> dict[tuple[int, int], Head]:
    """For each context (n, key): its best next words (int32 ids) and their 8-bit codes.

    Contexts with more than K candidates have a stored head, best first; a smaller context's
    rows are its whole head already (in code order, best first). Two queries for any number of
    contexts; ``where`` and ``params`` select the build (and the source, in the cold tier).
    """
    result: dict[tuple[int, int], Head] = {}
    for n, ctx, words, codes in await fetch_keyed(
        db, "g.n, g.ctx, g.words, g.codes", heads_table, ("n", "ctx"), contexts, where, params
    ):
        result[(n, ctx)] = (np.frombuffer(words, dtype="<i4"), np.frombuffer(codes, dtype=np.uint8))
    small = [c for c in contexts if c not in result]
    rows: dict[tuple[int, int], list[tuple[int, int]]] = {c: [] for c in small}
    for n, ctx, word, code in await fetch_keyed(
        db,
        "g.n, g.ctx, g.word, g.q",
        ngrams_table,
        ("n", "ctx"),
        small,
        f"{where} AND g.word NOT IN (?, ?, ?)",
        (*params, *NEVER_SAMPLED),
    ):
        rows[(n, ctx)].append((code, word))
    for context, entries in rows.items():
        entries.sort(key=lambda e: (-e[0], e[1]))
        result[context] = (
            np.array([w for _, w in entries], dtype=np.int32),
            np.array([c for c, _ in entries], dtype=np.uint8),
        )
    return result


async def read_contexts(
    db: Database, contexts_table: str, ngrams_table: str, keys: Sequence[tuple[int, int]], where: str, params: Sequence
) -> dict[tuple[int, int], Context]:
    """The count-form contexts (n, key) among ``keys`` that some word follows: two queries
    for any number of them, as :func:`read_heads`."""
    result: dict[tuple[int, int], Context] = {}
    small: dict[tuple[int, int], tuple[int, ...]] = {}
    for n, ctx, total, n1, n2, n3, words, counts in await fetch_keyed(
        db,
        f"g.n, g.ctx, {CONTEXT_STATS}, g.head_words, g.head_counts",
        contexts_table,
        ("n", "ctx"),
        keys,
        where,
        params,
    ):
        if words is None:
            small[(n, ctx)] = (total, n1, n2, n3)
        else:
            result[(n, ctx)] = Context(
                total,
                n1,
                n2,
                n3,
                np.frombuffer(words, dtype="<i4").astype(np.int64),
                np.frombuffer(counts, dtype="<i4").astype(np.int64),
                False,
            )
    rows: dict[tuple[int, int], list[tuple[int, int]]] = {c: [] for c in small}
    for n, ctx, word, adjusted in await fetch_keyed(
        db,
        "g.n, g.ctx, g.word, g.adjusted",
        ngrams_table,
        ("n", "ctx"),
        list(small),
        f"{where} AND g.word NOT IN (?, ?, ?)",
        (*params, *NEVER_SAMPLED),
    ):
        rows[(n, ctx)].append((-adjusted, word))
    for key, entries in rows.items():
        entries.sort()
        result[key] = Context(
            *small[key],
            np.array([w for _, w in entries], dtype=np.int64),
            np.array([-a for a, _ in entries], dtype=np.int64),
            True,
        )
    return result
