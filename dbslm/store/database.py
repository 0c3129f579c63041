"""The async protocol every backend implements: reads, and write transactions.

Reads see the last committed state (a model being built is invisible until its switch
commits). Writes happen inside ``async with db.transaction() as tx``: all or nothing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dbslm.errors import DbslmError
from dbslm.store.dialect import Dialect

Row = tuple[Any, ...]
T = TypeVar("T")
P = TypeVar("P")


class Transaction(ABC):
    """Statements inside one write transaction."""

    dialect: Dialect

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the id of an inserted row, where there is one."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for each parameter row; returns how many rows they changed."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a query, seeing this transaction's own writes."""

    async def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column`` (a migration cut short may have added it already)."""
        return bool(await self.fetchall(self.dialect.column_query, (table, column)))

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        values: Sequence[Any],
        update_on: Sequence[str] = (),
        keep_on: Sequence[str] = (),
    ) -> int:
        """Bulk insert: ``values`` holds one array or list per column, all of one length, or
        one value for every row (a column that is not a list, tuple, range or array).

        Rows go in as multi-row statements (hundreds of rows each); values stay bound
        parameters. Rows are best given in primary-key order. With ``update_on`` (the key
        columns) a row whose key exists updates it instead; with ``keep_on`` it is left as is.
        Returns how many rows were inserted (with ``keep_on``: the new ones).
        """
        return await self.run_statements(insert_statements(self.dialect, table, columns, values, update_on, keep_on))

    async def run_statements(self, statements: Statements) -> int:
        """Run prepared statements (see :func:`insert_statements`); returns the rows they changed."""
        return sum([await self.executemany(sql, rows) for sql, rows in statements])


Statements = list[tuple[str, list[list[Any]]]]


def insert_statements(
    dialect: Dialect,
    table: str,
    columns: Sequence[str],
    values: Sequence[Any],
    update_on: Sequence[str] = (),
    keep_on: Sequence[str] = (),
) -> Statements:
    """The multi-row statements of :meth:`Transaction.insert_rows` with their parameter rows
    (no database needed: a thread can prepare them while another part is written)."""
    count = row_count(values)
    if count == 0:
        return []
    width = len(columns)
    if all(_is_integer(v) for v in values):  # one int64 array, made into Python ints in one go
        grid = np.empty((count, width), dtype=np.int64)
    else:
        grid = np.empty((count, width), dtype=object)
        values = [v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v for v in values]
    for j, column in enumerate(values):
        grid[:, j] = column
    per_statement = dialect.rows_per_statement(width)
    one_row = "(" + ", ".join("?" for _ in columns) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    tail = (
        dialect.update_clause(columns, update_on)
        if update_on
        else dialect.keep_clause(tuple(keep_on))
        if keep_on
        else ""
    )
    full = count - count % per_statement
    statements = []
    if full:
        statements.append(
            (
                head + ", ".join([one_row] * per_statement) + tail,
                grid[:full].reshape(-1, per_statement * width).tolist(),
            )
        )
    if full < count:
        statements.append((head + ", ".join([one_row] * (count - full)) + tail, [grid[full:].ravel().tolist()]))
    return statements


async def overlapped(
    items: Sequence[T],
    prepare: Callable[[T], P],
    use: Callable[[P], Awaitable[int]],
    release: Callable[[P], None] = lambda prepared: None,
    first_on_loop: bool = False,
) -> int:
    """The sum of ``use(prepare(item))`` over ``items``, each item prepared in a thread while the
    one before it is used (a part of rows formatted while the database writes the last); every
    prepared item is released after its use, or unused when a use fails. With ``first_on_loop``
    the first item is prepared on the event loop: a short job whose thread would wait for the
    interpreter's lock behind the loop's own work (ten times as long, measured)."""
    total, pending = 0, None
    for i, item in enumerate(items):
        prepared = prepare(item) if i == 0 and first_on_loop else await (pending or asyncio.to_thread(prepare, item))
        pending = asyncio.create_task(asyncio.to_thread(prepare, items[i + 1])) if i + 1 < len(items) else None
        try:
            total += await use(prepared)
        except BaseException:
            if pending is not None:
                release(await pending)
            raise
        finally:
            release(prepared)
    return total


def _is_integer(values: Any) -> bool:
    """Whether an :meth:`Transaction.insert_rows` column holds only integers (not booleans)."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind == "i" or (values.dtype.kind == "u" and values.dtype.itemsize < 8)
    return type(values) is int or isinstance(values, np.integer)


def is_column(values: Any) -> bool:
    """Whether an :meth:`Transaction.insert_rows` column gives one value per row."""
    return isinstance(values, (list, tuple, range, np.ndarray))


def row_count(values: Sequence[Any]) -> int:
    """The rows of :meth:`Transaction.insert_rows` columns (one of them must be per row)."""
    return len(next(v for v in values if is_column(v)))


class Database(ABC):
    """One database, SQLite file or MariaDB server."""

    dialect: Dialect
    description: str

    @abstractmethod
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a read-only query against the last committed state."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction, committed when the block ends without an exception."""

    @abstractmethod
    def lock(self, name: str, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """An exclusive lock on ``name`` among every process using this database; it gives
        whether it is held (without ``wait``: False at once when another holds it)."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    async def let_others_write(self) -> None:  # noqa: B027 - nothing to do unless one lock serves all
        """Between two parts of a long write (a build's rows): a pause in which other processes
        can take the write lock, where one lock serves the whole database (SQLite)."""

    async def erase_deleted(self) -> None:  # noqa: B027 - nothing to do unless the backend keeps copies
        """Leave no copy of deleted rows in the database's files (after a forgetting). MariaDB:
        InnoDB purges deleted rows itself; its binary logs are the operator's (docs/integrity.md)."""

    async def backup(self, target: Path) -> None:
        """Copy the whole database, as it is at one moment, into the new SQLite file ``target``
        while others go on using it. MariaDB's tool for this is mariadb-dump."""
        raise DbslmError(
            f"{self.description} is a MariaDB database: back it up with mariadb-dump "
            "(mariadb-dump --single-transaction -h HOST -u USER -p DATABASE > dbslm.sql)"
        )

    async def delete_unread(self, sql: str, params: Sequence[Any]) -> int:
        """Run a DELETE of rows that nobody reads or writes any more (a replaced build's) in a
        transaction of its own; returns the rows it deleted."""
        async with self.transaction() as tx:
            return await tx.executemany(sql, [params])

    async def settings_advice(self) -> list[str]:
        """What the database server's own settings make slow, a line each (logged at start)."""
        return []

    @abstractmethod
    async def size_bytes(self) -> int:
        """The space the database takes (data and indexes)."""

    @abstractmethod
    async def table_exists(self, name: str) -> bool:
        """Whether a table called ``name`` exists."""

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def iterate(self, sql: str, params: Sequence[Any] = (), batch: int = 50000) -> AsyncIterator[list[Row]]:
        """Rows of a query in batches, so large tables stream (the default reads them all)."""
        yield await self.fetchall(sql, params)

    async def integer_rows(self, columns: Sequence[str], source: str, params: Sequence[Any], groups: str) -> np.ndarray:
        """``SELECT columns FROM source`` (integer columns) as an int64 array, one row per row.
        ``groups`` splits the rows into bounded groups (a backend may read them packed)."""
        parts = [
            np.array(batch, dtype=np.int64).reshape(-1, len(columns))
            async for batch in self.iterate(f"SELECT {', '.join(columns)} FROM {source}", params)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(columns)), dtype=np.int64)


async def fetch_keyed(
    db: Database | Transaction,
    select: str,
    table: str,
    key_columns: Sequence[str],
    keys: Sequence[Sequence[Any]],
    where: str = "1 = 1",
    params: Sequence[Any] = (),
    chunk: int = 900,
) -> list[Row]:
    """``SELECT select FROM table g`` for the rows whose ``key_columns`` match one of ``keys``.

    Keys go in as a VALUES list joined to the table (one statement per ``chunk`` keys), so a
    batch of point look-ups costs a few round trips, not one each. ``where`` and ``params``
    add conditions on ``g`` (and may end in GROUP BY).
    """
    rows: list[Row] = []
    names = ", ".join(key_columns)
    on = " AND ".join(f"g.{c} = k.{c}" for c in key_columns)
    one_key = "(" + ", ".join("?" for _ in key_columns) + ")"
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        sql = (
            f"WITH k ({names}) AS (VALUES {', '.join([one_key] * len(part))}) "
            f"SELECT {select} FROM k JOIN {table} g ON {on} WHERE {where}"
        )
        rows += await db.fetchall(sql, [v for key in part for v in key] + list(params))
    return rows


def in_parts(keys: Sequence[str], size: int = 500) -> Iterator[tuple[Sequence[str], str]]:
    """``keys`` in parts of at most ``size``, each with its ``?`` placeholders."""
    for start in range(0, len(keys), size):
        part = keys[start : start + size]
        yield part, ", ".join("?" for _ in part)
