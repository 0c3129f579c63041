"""Cold storage: a SQLite file's coldest contexts moved to MariaDB, and reads that follow them.

A flush copies whole contexts (every n-gram of one context of the active build, and its head)
to MariaDB, verifies the copy, then records the context in the local ``flushed`` table and
deletes its local rows in one transaction. Copies are upserts, so a flush interrupted anywhere
and run again ends in the same state, losing and doubling nothing. Look-ups that miss locally
and whose context is flushed fall through to MariaDB, so answers do not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dbslm.errors import DbslmError
from dbslm.store.database import Database, Row, fetch_keyed
from dbslm.store.heads import Context, Head, read_context_stats, read_contexts, read_heads
from dbslm.store.schema import COLD_TABLES

NGRAM_COLUMNS = ("n", "ctx", "word", "count", "logp", "backoff", "q", "adjusted")
ROW_VALUES = (
    "g.n, g.ctx, g.word, g.count, COALESCE(g.logp, 0), COALESCE(g.backoff, 0), COALESCE(g.q, 0), "
    "COALESCE(g.adjusted, 0)"
)
HEAD_COLUMNS = ("n", "ctx", "words", "codes")
CONTEXT_COLUMNS = ("n", "ctx", "total", "n1", "n2", "n3", "head_words", "head_counts")


async def flushed_contexts(db: Database) -> int:
    """How many contexts of the models' active builds live in the cold tier, not in ``db``."""
    row = await db.fetchone("SELECT COUNT(*) FROM flushed WHERE build IN (SELECT active_build FROM models)")
    return int(row[0]) if row else 0


@dataclass
class FlushReport:
    contexts: int
    rows: int


class ColdStorage:
    """The MariaDB tier of one SQLite database (``source`` is that file's database id)."""

    def __init__(self, local: Database, remote: Database, source: str) -> None:
        self.local = local
        self.remote = remote
        self.source = source

    @classmethod
    async def attach(cls, local: Database, remote: Database) -> ColdStorage:
        """Cold storage for ``local`` in ``remote``, creating the cold tables if needed."""
        row = await local.fetchone("SELECT value FROM meta WHERE name = 'database_id'")
        if row is None:
            raise DbslmError(f"{local.description} has no database id; it cannot use cold storage")
        async with remote.transaction() as tx:
            for table in COLD_TABLES:
                if not await remote.table_exists(table.name):
                    for statement in remote.dialect.create_table(table):
                        await tx.execute(statement)
            if not await tx.has_column("cold_ngrams", "adjusted"):
                ngrams = next(t for t in COLD_TABLES if t.name == "cold_ngrams")  # as schema version 8 has it
                await tx.execute(remote.dialect.add_column(ngrams, "adjusted"))
                for statement in remote.dialect.retype(ngrams, ("logp", "q")):
                    await tx.execute(statement)
        return cls(local, remote, row[0])

    async def lookup(self, build: int, keys: Sequence[Sequence[int]]) -> list[Row]:
        """Rows (n, ctx, word, count, logp, backoff, q, adjusted) of ``keys`` whose context is flushed."""
        flushed = set(await self._flushed(build, sorted({(k[0], k[1]) for k in keys})))
        wanted = [k for k in keys if (k[0], k[1]) in flushed]
        if not wanted:
            return []
        return await fetch_keyed(
            self.remote,
            ROW_VALUES,
            "cold_ngrams",
            ("n", "ctx", "word"),
            wanted,
            "g.source = ? AND g.build = ?",
            (self.source, build),
        )

    async def order_rows(self, build: int, n: int) -> list[Row]:
        """Every flushed row (n, ctx, word, count, logp, backoff, q, adjusted) of one order of a build."""
        return await self.remote.fetchall(
            f"SELECT {ROW_VALUES} FROM cold_ngrams g WHERE g.source = ? AND g.build = ? AND g.n = ?",
            (self.source, build, n),
        )

    async def heads(self, build: int, contexts: list[tuple[int, int]]) -> dict[tuple[int, int], Head]:
        """The heads of those ``contexts`` that were flushed."""
        flushed = await self._flushed(build, contexts)
        if not flushed:
            return {}
        return await read_heads(
            self.remote, "cold_heads", "cold_ngrams", flushed, "g.source = ? AND g.build = ?", (self.source, build)
        )

    async def contexts(self, build: int, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Context]:
        """The count-form contexts among ``keys`` that were flushed."""
        flushed = await self._flushed(build, keys)
        if not flushed:
            return {}
        return await read_contexts(
            self.remote, "cold_contexts", "cold_ngrams", flushed, "g.source = ? AND g.build = ?", (self.source, build)
        )

    async def context_stats(self, build: int, keys: list[tuple[int, int]]) -> list[tuple[int, ...]]:
        """Rows (n, ctx, total, n1, n2, n3) of the flushed count-form contexts among ``keys``."""
        flushed = await self._flushed(build, keys)
        if not flushed:
            return []
        return await read_context_stats(
            self.remote, "cold_contexts", "cold_ngrams", flushed, "g.source = ? AND g.build = ?", (self.source, build)
        )

    async def _flushed(self, build: int, contexts: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Those of ``contexts`` whose rows are in the cold tier."""
        return [
            (n, ctx)
            for n, ctx in await fetch_keyed(
                self.local, "g.n, g.ctx", "flushed", ("n", "ctx"), contexts, "g.build = ?", (build,)
            )
        ]

    async def purge(self, builds: Sequence[int]) -> None:
        """Delete the cold rows of builds that are gone."""
        async with self.remote.transaction() as tx:
            for build in builds:
                for table in COLD_TABLES:
                    await tx.execute(f"DELETE FROM {table.name} WHERE source = ? AND build = ?", (self.source, build))

    async def flush(self, build: int, batch: int, progress: Callable[[str], None]) -> FlushReport:
        """Move up to ``batch`` of the build's coldest contexts: lowest total count first,
        longer contexts before shorter. Unigrams always stay local."""
        contexts = [
            tuple(r[:2])
            for r in await self.local.fetchall(
                "SELECT n, ctx, SUM(count) AS total FROM ngrams WHERE build = ? AND n > 1 "
                "GROUP BY n, ctx ORDER BY total, n DESC, ctx LIMIT ?",
                (build, batch),
            )
        ]
        if not contexts:
            return FlushReport(0, 0)
        ngrams = await fetch_keyed(
            self.local, "g." + ", g.".join(NGRAM_COLUMNS), "ngrams", ("n", "ctx"), contexts, "g.build = ?", (build,)
        )
        heads = await fetch_keyed(
            self.local, "g." + ", g.".join(HEAD_COLUMNS), "heads", ("n", "ctx"), contexts, "g.build = ?", (build,)
        )
        stats = await fetch_keyed(
            self.local, "g." + ", g.".join(CONTEXT_COLUMNS), "contexts", ("n", "ctx"), contexts, "g.build = ?", (build,)
        )
        progress(f"copying {len(contexts):,} contexts ({len(ngrams):,} n-grams)")
        async with self.remote.transaction() as tx:
            for table, columns, rows in (
                ("cold_ngrams", NGRAM_COLUMNS, ngrams),
                ("cold_heads", HEAD_COLUMNS, heads),
                ("cold_contexts", CONTEXT_COLUMNS, stats),
            ):
                if rows:
                    values = [[self.source] * len(rows), [build] * len(rows), *map(list, zip(*rows))]
                    keys = next(t.primary_key for t in COLD_TABLES if t.name == table)
                    await tx.insert_rows(table, ("source", "build", *columns), values, update_on=keys)
        await self._verify(build, contexts, ngrams)
        progress("verified; deleting the local copies")
        per_context: dict[tuple, int] = {}
        for row in ngrams:
            per_context[(row[0], row[1])] = per_context.get((row[0], row[1]), 0) + 1
        async with self.local.transaction() as tx:
            now = time.time()
            await tx.insert_rows(
                "flushed",
                ("build", "n", "ctx", "rows_moved", "flushed_at"),
                [
                    [build] * len(contexts),
                    [c[0] for c in contexts],
                    [c[1] for c in contexts],
                    [per_context[c] for c in contexts],
                    [now] * len(contexts),
                ],
            )
            for table in ("ngrams", "heads", "contexts"):
                await tx.executemany(
                    f"DELETE FROM {table} WHERE build = ? AND n = ? AND ctx = ?",
                    [(build, n, ctx) for n, ctx in contexts],
                )
        return FlushReport(len(contexts), len(ngrams))

    async def _verify(self, build: int, contexts: list[tuple[Any, ...]], ngrams: list[Row]) -> None:
        """The copy holds, per context, as many n-grams with the same total count."""
        expected: dict[tuple, tuple[int, int]] = {}
        for n, ctx, _, count, *_ in ngrams:
            rows, total = expected.get((n, ctx), (0, 0))
            expected[(n, ctx)] = (rows + 1, total + count)
        copied = await fetch_keyed(
            self.remote,
            "g.n, g.ctx, COUNT(*), SUM(g.count)",
            "cold_ngrams",
            ("n", "ctx"),
            contexts,
            "g.source = ? AND g.build = ? GROUP BY g.n, g.ctx",
            (self.source, build),
        )
        if {(r[0], r[1]): (int(r[2]), int(r[3])) for r in copied} != expected:
            raise DbslmError(f"the copy in {self.remote.description} does not match; nothing was deleted locally")
