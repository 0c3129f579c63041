"""Reading top-K heads and contexts, from the local tables or from the cold tier (same shape,
other names)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dbslm.ngram.count_probs import Context, follower_stats
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
    for any number of them, as :func:`read_heads`. A context with a head has a row of its
    statistics and head; any other context is its n-gram rows (at most K sampled words and
    the control tokens), which give its statistics and its every word."""
    result: dict[tuple[int, int], Context] = {}
    for n, ctx, total, n1, n2, n3, words, counts in await fetch_keyed(
        db,
        f"g.n, g.ctx, {CONTEXT_STATS}, g.head_words, g.head_counts",
        contexts_table,
        ("n", "ctx"),
        keys,
        f"{where} AND g.head_words IS NOT NULL",
        params,
    ):
        result[(n, ctx)] = Context(
            total,
            n1,
            n2,
            n3,
            np.frombuffer(words, dtype="<i4").astype(np.int64),
            np.frombuffer(counts, dtype="<i4").astype(np.int64),
            False,
        )
    for key, followers in (
        await read_followers(db, ngrams_table, [k for k in keys if k not in result], where, params)
    ).items():
        sampled = sorted((-adjusted, word) for word, adjusted in followers if word not in NEVER_SAMPLED)
        result[key] = Context(
            *follower_stats([adjusted for _, adjusted in followers]),
            np.array([w for _, w in sampled], dtype=np.int64),
            np.array([-a for a, _ in sampled], dtype=np.int64),
            True,
        )
    return result


async def read_context_stats(
    db: Database, contexts_table: str, ngrams_table: str, keys: Sequence[tuple[int, int]], where: str, params: Sequence
) -> list[tuple[int, ...]]:
    """Rows (n, ctx, total, n1, n2, n3) of the count-form contexts among ``keys`` that some
    word follows: a context's row where it has one, else the sums over its n-gram rows."""
    found = [
        tuple(row)
        for row in await fetch_keyed(
            db, f"g.n, g.ctx, {CONTEXT_STATS}", contexts_table, ("n", "ctx"), keys, where, params
        )
    ]
    here = {row[:2] for row in found}
    followers = await read_followers(db, ngrams_table, [k for k in keys if tuple(k) not in here], where, params)
    return found + [(*key, *follower_stats([a for _, a in rows])) for key, rows in followers.items()]


async def read_followers(
    db: Database, ngrams_table: str, keys: Sequence[tuple[int, int]], where: str, params: Sequence
) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """The words (and their adjusted counts) that follow each of ``keys``, for those some word follows."""
    rows: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for n, ctx, word, adjusted in await fetch_keyed(
        db, "g.n, g.ctx, g.word, g.adjusted", ngrams_table, ("n", "ctx"), keys, where, params
    ):
        rows.setdefault((n, ctx), []).append((word, adjusted))
    return rows
