"""A build's rows as written and deleted: a part at a time, so that other writers (a reply's
log) wait for one part at most; nobody reads a build's rows before its switch, or after it was
replaced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

import numpy as np

from dbslm.errors import DbslmError
from dbslm.ngram import hashing
from dbslm.ngram.count_tables import ContextRows, CountOrder, CountTables
from dbslm.ngram.counting import runs
from dbslm.ngram.tables import ModelTables
from dbslm.store.database import Database, Statements, insert_statements, is_column, overlapped, row_count
from dbslm.store.schema import BUILD_TABLES, TABLES

log = logging.getLogger(__name__)
SCHEMA = {t.name: t for t in TABLES}
STOP_SECONDS = 1.0  # how long stopped tasks have to end before they are cancelled again
TABLES_AHEAD = 1  # computed tables waiting for a lane (one more is in the computing thread's hand)
CONTEXT_COLUMNS = ("build", "n", "ctx", "total", "n1", "n2", "n3", "head_words", "head_counts")


async def write_count_rows(db: Database, build: int, tables: CountTables) -> None:
    """Insert every row of a count-form build, as :func:`write_probability_rows` does: one
    thread computes each table's rows in turn (sorted, ahead of the writing by up to
    ``TABLES_AHEAD``) while the dialect's ``build_lanes`` write them (each lane a connection of
    its own)."""
    rows = count_rows(build, tables)
    ready: asyncio.Queue[tuple[str, tuple[str, ...], list] | None] = asyncio.Queue(TABLES_AHEAD)
    lanes = db.dialect.build_lanes

    async def compute() -> None:
        while (table := await asyncio.to_thread(next, rows, None)) is not None:
            await ready.put(table)
        for _ in range(lanes):
            await ready.put(None)  # each lane's end

    async def lane() -> None:
        while (table := await ready.get()) is not None:
            await insert_in_parts(db, *table)

    running = [asyncio.create_task(compute()), *(asyncio.create_task(lane()) for _ in range(lanes))]
    try:
        await asyncio.gather(*running)  # the first failure, as one lane would raise it
    finally:
        await stopped(running)  # the others stop before the caller goes on


async def stopped(tasks: Sequence[asyncio.Task]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again those that run on:
    a driver may turn a cancellation into an ordinary end (aiomysql, cut off while it sends a
    LOAD DATA file), and a lane that ran on waited for a next table that never came."""
    while running := [task for task in tasks if not task.done()]:
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=STOP_SECONDS)
    await asyncio.gather(*tasks, return_exceptions=True)  # their errors retrieved; the caller raises the first


def count_rows(build: int, tables: CountTables) -> Iterator[tuple[str, tuple[str, ...], list]]:
    """The rows of a count-form build: per table its columns and values (as
    :meth:`Transaction.insert_rows` takes them), each table's in primary-key order; each
    order's tables computed as they are asked for (:meth:`CountTables.parts`)."""
    for part in tables.parts():
        if isinstance(part, CountOrder):
            rows = _by_context(part.ctx)
            yield (
                "ngrams",
                ("build", "n", "ctx", "word", "count", "adjusted"),
                [build, part.n, part.ctx[rows], part.word[rows], part.count[rows], part.adjusted[rows]],
            )
        elif isinstance(part, ContextRows):
            if len(part.heads.ctx):  # only contexts with a head (the others' n-gram rows give their statistics)
                yield "contexts", CONTEXT_COLUMNS, _context_values(build, part)
        else:
            columns = zip(*[(d.n, *d.t, *(float(x) for x in d.d), int(d.fallback), d.ngrams) for d in part])
            yield (
                "discounts",
                ("build", "n", "t1", "t2", "t3", "t4", "d1", "d2", "d3", "fallback", "ngrams"),
                [build, *(list(column) for column in columns)],
            )


def _by_context(ctx: np.ndarray) -> np.ndarray:
    """The row order of an order's n-grams by (context key, word). Counting leaves them by
    (parent, word), so each context's rows are one run, already by word: sorting the runs by
    their key (one per run) and keeping each run whole does it."""
    starts, ends = runs(ctx)
    by_key = np.argsort(ctx[starts])
    lengths = (ends - starts)[by_key]
    moved = starts[by_key] - (np.cumsum(lengths) - lengths)  # each run's start in ctx minus its start in the order
    return np.arange(len(ctx)) + np.repeat(moved, lengths)


def _context_values(build: int, contexts: ContextRows) -> list:
    """The values of an order's ``contexts`` rows (those with a head), by key."""
    heads = contexts.heads
    at, _ = hashing.locate(contexts.ctx, heads.ctx)
    rows = np.argsort(heads.ctx)
    stats = contexts.stats.take(at[rows])
    return [
        build,
        contexts.n,
        heads.ctx[rows],
        *(v.astype(np.int64) for v in (stats.total, stats.n1, stats.n2, stats.n3)),
        [heads.words[i] for i in rows.tolist()],
        [heads.codes[i] for i in rows.tolist()],
    ]


async def write_probability_rows(db: Database, build: int, tables: ModelTables) -> None:
    """Insert every row of a build, each table in primary-key order, in transactions of the
    dialect's size: other writers (a reply's log) wait for one of them at most, and nobody
    reads the rows before the switch."""
    for table in tables.orders:
        rows = np.lexsort((table.word, table.ctx))
        columns = ["build", "n", "ctx", "word", "count", "logp", "q"]
        values = [
            build,
            table.n,
            table.ctx[rows],
            table.word[rows],
            table.count[rows],
            table.logp[rows],
            table.code[rows],
        ]
        if table.backoff is not None:
            columns.append("backoff")
            values.append(table.backoff[rows])
        await insert_in_parts(db, "ngrams", columns, values)
        await insert_in_parts(
            db, "quant", ("build", "n", "code", "logp"), [build, table.n, range(len(table.lut)), table.lut]
        )
    for heads in tables.heads:
        rows = np.argsort(heads.ctx)
        await insert_in_parts(
            db,
            "heads",
            ("build", "n", "ctx", "words", "codes"),
            [build, heads.n, heads.ctx[rows], [heads.words[i] for i in rows], [heads.codes[i] for i in rows]],
        )
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO discounts (build, n, t1, t2, t3, t4, d1, d2, d3, fallback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(build, d.n, *d.t, *(float(x) for x in d.d), int(d.fallback)) for d in tables.discounts],
        )


async def insert_in_parts(db: Database, table: str, columns: Sequence[str], values: Sequence[Any]) -> int:
    """:meth:`Transaction.insert_rows` in transactions of the dialect's
    ``build_rows_per_transaction`` rows, each part's statements prepared while the one before
    it is written; returns the rows inserted."""
    count, part = row_count(values), db.dialect.build_rows_per_transaction
    if part is None:  # one transaction (MariaDB's bulk load overlaps formatting and loading itself)
        async with db.transaction() as tx:
            return await tx.insert_rows(table, columns, values)

    async def write(statements: Statements) -> int:
        async with db.transaction() as tx:
            inserted = await tx.run_statements(statements)
        await db.let_others_write()
        return inserted

    parts = [[v[start : start + part] if is_column(v) else v for v in values] for start in range(0, count, part)]
    return await overlapped(parts, lambda rows: insert_statements(db.dialect, table, columns, rows), write)


async def purge_build(db: Database, build: int) -> int:
    """Delete a build that nobody reads and its rows, in transactions of the dialect's
    ``build_rows_per_transaction`` rows (as :func:`write_probability_rows`), each a range of the table's
    key; returns its n-gram rows."""
    part = db.dialect.build_rows_per_transaction
    ngrams = 0 if part is None else await _purge_ngram_slices(db, build, part)
    for table in BUILD_TABLES:
        key = ", ".join(c for c in SCHEMA[table].primary_key if c != "build")
        while True:
            last = (
                None
                if part is None
                else await db.fetchone(  # the key of the part's last row
                    f"SELECT {key} FROM {table} WHERE build = ? ORDER BY {key} LIMIT 1 OFFSET ?", (build, part - 1)
                )
            )
            upto = "" if last is None else f" AND ({key}) <= ({', '.join('?' for _ in last)})"
            deleted = await db.delete_unread(f"DELETE FROM {table} WHERE build = ?{upto}", (build, *(last or ())))
            ngrams += deleted if table == "ngrams" else 0
            if last is None:
                break
            await db.let_others_write()
    await db.delete_unread("DELETE FROM builds WHERE id = ?", (build,))
    return ngrams


async def _purge_ngram_slices(db: Database, build: int, part: int) -> int:
    """Delete the build's n-grams above the unigrams in slices of the context-key range of about
    ``part`` rows each (keys are uniform hashes, and each order's rows are counted in its
    ``discounts`` row), so no scan has to find where a part ends; returns the rows deleted."""
    deleted = 0
    for n, rows in await db.fetchall(
        "SELECT n, ngrams FROM discounts WHERE build = ? AND n > 1 AND ngrams IS NOT NULL", (build,)
    ):
        slices = max(1, -(-int(rows) // part))
        bounds = [-(1 << 63) + (i << 64) // slices for i in range(1, slices)]
        for low, high in zip([None, *bounds], [*bounds, None]):
            within = "".join(f" AND ctx {op} ?" for op, bound in ((">=", low), ("<", high)) if bound is not None)
            deleted += await db.delete_unread(
                f"DELETE FROM ngrams WHERE build = ? AND n = ?{within}",
                (build, n, *(bound for bound in (low, high) if bound is not None)),
            )
            await db.let_others_write()
    return deleted


class Purges:
    """Replaced builds deleted in the background: the switch's caller (a /forget, a batch, a
    training) is answered without waiting for them. One that fails is left to the next build's
    purge or the next start's clean-up."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task] = set()

    def start(self, purge: Awaitable[int]) -> None:
        """Run ``purge`` in the background."""
        task = asyncio.create_task(self._run(purge))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def settle(self) -> None:
        """Wait for the purges under way."""
        await asyncio.gather(*self._running)

    @staticmethod
    async def _run(purge: Awaitable[int]) -> None:
        try:
            await purge
        except DbslmError as exc:
            log.warning("a replaced build is left for the next purge: %s", exc)
