"""A build's rows as written and deleted: a part at a time, so that other writers (a reply's
log) wait for one part at most; nobody reads a build's rows before its switch, or after it was
replaced."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dbslm.ngram import hashing
from dbslm.ngram.count_tables import CountTables
from dbslm.ngram.tables import ModelTables
from dbslm.store.database import Database, Transaction, is_column, row_count
from dbslm.store.schema import BUILD_TABLES, TABLES

SCHEMA = {t.name: t for t in TABLES}


async def write_count_rows(db: Database, build: int, tables: CountTables) -> None:
    """Insert every row of a count-form build, as :func:`write_probability_rows` does."""
    for table, columns, values in count_rows(build, tables):
        await insert_in_parts(db, table, columns, values)


def count_rows(build: int, tables: CountTables) -> Iterator[tuple[str, tuple[str, ...], list]]:
    """The rows of a count-form build: per table its columns and values (as
    :meth:`Transaction.insert_rows` takes them), in primary-key order."""
    for order in tables.orders:
        rows = np.lexsort((order.word, order.ctx))
        yield "ngrams", ("build", "n", "ctx", "word", "count", "adjusted"), \
            [build, order.n, order.ctx[rows], order.word[rows], order.count[rows], order.adjusted[rows]]
    for contexts in tables.contexts:
        rows = np.argsort(contexts.ctx)
        heads = contexts.heads
        at, has_head = (v.tolist() for v in hashing.locate(heads.ctx, contexts.ctx[rows]))
        stats = contexts.stats.take(rows)
        yield "contexts", ("build", "n", "ctx", "total", "n1", "n2", "n3", "head_words", "head_counts"), \
            [build, contexts.n, contexts.ctx[rows], *(v.astype(np.int64) for v in (stats.total, stats.n1, stats.n2,
                                                                                    stats.n3)),
             [heads.words[i] if h else None for i, h in zip(at, has_head)],
             [heads.codes[i] if h else None for i, h in zip(at, has_head)]]
    yield "discounts", ("build", "n", "t1", "t2", "t3", "t4", "d1", "d2", "d3", "fallback", "ngrams"), \
        [build, *(list(column) for column in zip(*[(d.n, *d.t, *(float(x) for x in d.d), int(d.fallback), d.ngrams)
                                                  for d in tables.discounts]))]


async def write_probability_rows(db: Database, build: int, tables: ModelTables) -> None:
    """Insert every row of a build, each table in primary-key order, in transactions of the
    dialect's size: other writers (a reply's log) wait for one of them at most, and nobody
    reads the rows before the switch."""
    for table in tables.orders:
        rows = np.lexsort((table.word, table.ctx))
        columns = ["build", "n", "ctx", "word", "count", "logp", "q"]
        values = [build, table.n, table.ctx[rows], table.word[rows], table.count[rows], table.logp[rows],
                  table.code[rows]]
        if table.backoff is not None:
            columns.append("backoff")
            values.append(table.backoff[rows])
        await insert_in_parts(db, "ngrams", columns, values)
        await insert_in_parts(db, "quant", ("build", "n", "code", "logp"),
                               [build, table.n, range(len(table.lut)), table.lut])
    for heads in tables.heads:
        rows = np.argsort(heads.ctx)
        await insert_in_parts(db, "heads", ("build", "n", "ctx", "words", "codes"),
                               [build, heads.n, heads.ctx[rows], [heads.words[i] for i in rows],
                                [heads.codes[i] for i in rows]])
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO discounts (build, n, t1, t2, t3, t4, d1, d2, d3, fallback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(build, d.n, *d.t, *(float(x) for x in d.d), int(d.fallback)) for d in tables.discounts])


async def insert_in_parts(db: Database, table: str, columns: Sequence[str], values: Sequence[Any]) -> None:
    """:meth:`Transaction.insert_rows` in transactions of the dialect's
    ``build_rows_per_transaction`` rows."""
    count = row_count(values)
    part = db.dialect.build_rows_per_transaction or max(count, 1)
    for start in range(0, count, part):
        async with db.transaction() as tx:
            await tx.insert_rows(table, columns, [v[start:start + part] if is_column(v) else v for v in values])
        await db.let_others_write()


async def purge_build(db: Database, build: int) -> int:
    """Delete a build that nobody reads and its rows, in transactions of the dialect's
    ``build_rows_per_transaction`` rows (as :func:`write_probability_rows`), each a range of the table's
    key; returns its n-gram rows."""
    ngrams, part = 0, db.dialect.build_rows_per_transaction
    for table in BUILD_TABLES:
        key = ", ".join(c for c in SCHEMA[table].primary_key if c != "build")
        while True:
            last = None if part is None else await db.fetchone(  # the key of the part's last row
                f"SELECT {key} FROM {table} WHERE build = ? ORDER BY {key} LIMIT 1 OFFSET ?", (build, part - 1))
            upto = "" if last is None else f" AND ({key}) <= ({', '.join('?' for _ in last)})"
            async with db.transaction() as tx:
                deleted = await tx.executemany(f"DELETE FROM {table} WHERE build = ?{upto}", [(build, *(last or ()))])
            ngrams += deleted if table == "ngrams" else 0
            if last is None:
                break
            await db.let_others_write()
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM builds WHERE id = ?", (build,))
    return ngrams


async def delete_builds(tx: Transaction, builds: list[int]) -> None:
    """Delete builds and their rows, inside ``tx``."""
    for build in builds:
        for table in BUILD_TABLES:
            await tx.execute(f"DELETE FROM {table} WHERE build = ?", (build,))
        await tx.execute("DELETE FROM builds WHERE id = ?", (build,))
