"""The shared backend: a MariaDB server through an aiomysql connection pool.

Bulk rows go in with ``LOAD DATA LOCAL INFILE`` from a temporary tab-separated file (several
times faster than multi-row INSERTs); everything else is ordinary statements with
bound parameters. Errors name the server as host:port and never its password.
"""

from __future__ import annotations

import asyncio
import os
import re
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomysql
import numpy as np
import pymysql

from dbslm.errors import DatabaseError, DbslmError
from dbslm.store.database import Database, Row, Transaction, is_column, overlapped, row_count
from dbslm.store.dialect import MariaDBDialect
from dbslm.store.load_files import is_binary, tab_separated_file

CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT = 600
LOCK_TIMEOUT = 3600
LOAD_DATA_MIN_ROWS = 2000
# aiomysql sends a local file in packets of up to 16 MB, which a server with the default
# max_allowed_packet (16 MB) refuses; files of this many rows stay well below that.
LOAD_DATA_ROWS = 100_000
LOAD_ON_LOOP_ROWS = 20_000  # a load this small writes its file on the event loop (about 10 ms)
DUPLICATE_KEY = 1062
# The bulk tables' engine. InnoDB (the default) lets replies read the active model while a build
# loads its rows; Aria locks a table per statement, so a reply's read waited for each bulk load
# of a training in another process (2.4 s p95 against 0.12 s: bench/RESULTS.md).
SLAB_ENGINES = {"innodb": "InnoDB", "aria": "Aria"}
MIN_VERSION = (10, 5)  # INSERT ... RETURNING (a reply's log)
_LOST = {2006, 2013, 2055}  # server gone away, lost connection, lost at handshake

# Server notes such as "table already exists" (CREATE TABLE IF NOT EXISTS) are not problems.
warnings.filterwarnings("ignore", category=pymysql.Warning)


@dataclass(frozen=True)
class MariaDBTarget:
    """Where a MariaDB database is; ``str()`` never shows the password."""

    host: str
    port: int
    user: str
    password: str
    database: str
    slab_engine: str = "InnoDB"

    def __str__(self) -> str:
        return f"mariadb://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def place(self) -> str:
        return f"MariaDB at {self.host}:{self.port}"


def parse_url(url: str) -> MariaDBTarget:
    """``mariadb://user:password@host:port/database?slab_engine=InnoDB`` (``mysql://`` too)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ of an IPv6 host, say
        raise DbslmError(
            "the MariaDB URL is malformed: mariadb://user:password@host:3306/name (an IPv6 host in brackets: [::1])"
        ) from None
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise DbslmError("a MariaDB URL needs a host and a database: mariadb://user:password@host:3306/name")
    try:
        port = parts.port or 3306
    except ValueError:
        raise DbslmError(f"the MariaDB URL for {parts.hostname} has an invalid port") from None
    engine = parse_qs(parts.query).get("slab_engine", ["InnoDB"])[0]
    if engine.lower() not in SLAB_ENGINES:
        raise DbslmError(f"the MariaDB URL's slab_engine must be one of {', '.join(SLAB_ENGINES.values())}")
    return MariaDBTarget(
        parts.hostname,
        port,
        unquote(parts.username or "root"),
        unquote(parts.password or ""),
        unquote(database),
        SLAB_ENGINES[engine.lower()],
    )


class MariaDBTransaction(Transaction):
    def __init__(self, conn: aiomysql.Connection, db: MariaDBDatabase) -> None:
        self._conn = conn
        self._db = db
        self.dialect = db.dialect

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._conn.cursor() as cur:
            await self._db.guard(cur.execute(_format(sql), tuple(params)))
            return cur.lastrowid or 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        async with self._conn.cursor() as cur:
            await self._db.guard(cur.executemany(_format(sql), [tuple(r) for r in rows]))
            return max(cur.rowcount, 0)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._conn.cursor() as cur:
            await self._db.guard(cur.execute(_format(sql), tuple(params)))
            return list(await cur.fetchall())

    async def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        values: Sequence[Any],
        update_on: Sequence[str] = (),
        keep_on: Sequence[str] = (),
    ) -> int:
        """Bulk rows through LOAD DATA LOCAL INFILE (text escaped, bytes as hex, a value for
        every row bound in its SET clause; ``keep_on`` as IGNORE); small batches and upserts as
        multi-row INSERTs."""
        if update_on or row_count(values) < LOAD_DATA_MIN_ROWS:
            return await super().insert_rows(table, columns, values, update_on, keep_on)
        rows = [(c, v) for c, v in zip(columns, values) if is_column(v)]
        binary = [is_binary(v) for _, v in rows]
        fields = ", ".join(f"@{c}" if b else c for (c, _), b in zip(rows, binary))
        sets = [f"{c} = UNHEX(@{c})" for (c, _), b in zip(rows, binary) if b]
        constants = [(c, v) for c, v in zip(columns, values) if not is_column(v)]
        sets += [f"{c} = ?" for c, _ in constants]
        load = (
            f"LOAD DATA LOCAL INFILE ? {'IGNORE ' if keep_on else ''}INTO TABLE {table} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY '\\t' ({fields})" + (f" SET {', '.join(sets)}" if sets else "")
        )
        params = [_bound(v) for _, v in constants]
        values = [v for _, v in rows]
        starts = list(range(0, len(values[0]), LOAD_DATA_ROWS))  # each file written while the server loads the last
        return await overlapped(
            starts,
            lambda start: tab_separated_file(values, start, LOAD_DATA_ROWS),
            lambda path: self._load(load, [path, *params], duplicates_allowed=bool(keep_on)),
            os.unlink,
            first_on_loop=len(values[0]) <= LOAD_ON_LOOP_ROWS,
        )

    async def _load(self, load: str, params: Sequence[Any], duplicates_allowed: bool) -> int:
        """Run one LOAD DATA (``params``: its file's path, then its SET values); returns the
        rows it inserted. The server only warns where a row does not fit (LOCAL loads truncate
        and convert instead of failing): any such warning is an error here."""
        async with self._conn.cursor() as cur:
            await self._db.guard(cur.execute(_format(load), tuple(params)))
            inserted = max(cur.rowcount, 0)
            await self._db.guard(cur.execute("SHOW WARNINGS"))
            problems = [w for w in await cur.fetchall() if not (duplicates_allowed and w[1] == DUPLICATE_KEY)]
        if problems:
            raise DbslmError(f"{self._db.target.place}: a bulk load did not fit the table: {problems[0][2]}")
        return inserted


class MariaDBDatabase(Database):
    def __init__(self, target: MariaDBTarget, pool: aiomysql.Pool) -> None:
        self.target = target
        self.description = str(target)
        self.dialect = MariaDBDialect({"slab": target.slab_engine})
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> MariaDBDatabase:
        target = parse_url(url)
        try:
            pool = await asyncio.wait_for(
                aiomysql.create_pool(
                    host=target.host,
                    port=target.port,
                    user=target.user,
                    password=target.password,
                    db=target.database,
                    minsize=1,
                    maxsize=8,
                    autocommit=True,
                    charset="utf8mb4",
                    local_infile=True,
                    connect_timeout=CONNECT_TIMEOUT,
                    pool_recycle=3600,
                ),
                CONNECT_TIMEOUT + 5,
            )
        except TimeoutError:
            raise DatabaseError(f"{target.place}: no answer within {CONNECT_TIMEOUT} s") from None
        except (pymysql.Error, OSError) as exc:
            raise DatabaseError(f"{target.place}: {_reason(exc, target)}") from None
        database = cls(target, pool)
        async with database._connection() as conn:
            server = conn.get_server_info()  # from the handshake: no query
        if (mariadb_version(server) or (0, 0)) < MIN_VERSION:
            await database.close()
            needed = ".".join(map(str, MIN_VERSION))
            raise DatabaseError(f"{target.place}: dbslm needs MariaDB {needed} or newer; this server is {server}")
        return database

    async def guard(self, coro: Any) -> Any:
        """Await a driver call with the statement timeout, errors as one clear line. The call
        runs in the caller's task (``asyncio.timeout``): ``wait_for`` runs it in a task of its
        own and, when that one ends as the caller is cancelled, returns its result and drops
        the cancellation (a cancelled build's lane then waited forever for its next table)."""
        try:
            async with asyncio.timeout(STATEMENT_TIMEOUT):
                return await coro
        except TimeoutError:
            raise DatabaseError(f"{self.target.place}: no answer within {STATEMENT_TIMEOUT} s") from None
        except pymysql.Error as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: BaseException) -> DatabaseError:
        """The driver's error as the store's (every statement's error passes here)."""
        return DatabaseError(f"{self.target.place}: {_reason(exc, self.target)}")

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        for attempt in (1, 2):  # a connection the server dropped is replaced once
            try:
                async with self._pool.acquire() as conn, conn.cursor() as cur:
                    async with asyncio.timeout(STATEMENT_TIMEOUT):  # as in guard()
                        await cur.execute(_format(sql), tuple(params))
                    return list(await cur.fetchall())
            except pymysql.err.OperationalError as exc:
                if attempt == 2 or exc.args[0] not in _LOST:
                    raise self._failed(exc) from None
            except TimeoutError:
                raise DatabaseError(f"{self.target.place}: no answer within {STATEMENT_TIMEOUT} s") from None
            except (pymysql.err.InterfaceError, OSError) as exc:
                if attempt == 2:
                    raise self._failed(exc) from None
            except pymysql.Error as exc:
                raise self._failed(exc) from None
        raise AssertionError("unreachable")

    async def iterate(self, sql: str, params: Sequence[Any] = (), batch: int = 50000) -> AsyncIterator[list[Row]]:
        async with self._connection() as conn, conn.cursor(aiomysql.SSCursor) as cur:
            await self.guard(cur.execute(_format(sql), tuple(params)))
            while rows := await self.guard(cur.fetchmany(batch)):
                yield list(rows)

    async def integer_rows(self, columns: Sequence[str], source: str, params: Sequence[Any], groups: str) -> np.ndarray:
        """Packed: one text row per group (its values joined by the server), parsed at once;
        ten times faster than a row per row through the driver. A group whose text came
        back short (truncated) is an error, never a silent loss."""
        values = ", ' ', ".join(columns)
        sql = (
            f"SET STATEMENT group_concat_max_len = {2**32 - 1} FOR SELECT COUNT(*), "
            f"GROUP_CONCAT({values} SEPARATOR ' ') FROM {source} GROUP BY {groups}"
        )
        expected, texts = 0, []
        async for batch in self.iterate(sql, params, batch=1000):
            for count, text in batch:
                expected += count
                texts.append(text.decode() if isinstance(text, bytes) else text)
        grid = await asyncio.to_thread(lambda: np.array(" ".join(texts).split(), dtype=np.int64))
        if len(grid) != expected * len(columns):
            raise DbslmError(f"{self.target.place}: a packed read of {source.split()[0]} came back incomplete")
        return grid.reshape(-1, len(columns))

    async def size_bytes(self) -> int:
        row = await self.fetchone(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
        return int(row[0])

    async def delete_unread(self, sql: str, params: Sequence[Any]) -> int:
        """At READ COMMITTED: InnoDB then locks only the rows it deletes, not the gaps beside
        them, so a build written meanwhile (its rows come after them) never waits for it."""
        async with self._connection() as conn, conn.cursor() as cur:
            await self.guard(cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))  # the next one only
            await self.guard(cur.execute(_format(sql), tuple(params)))  # in autocommit: that transaction
            return max(cur.rowcount, 0)

    async def cache_sizes(self) -> dict[str, int]:
        """The server's InnoDB buffer pool and redo log sizes, in bytes."""
        pool, log_file = await self.fetchone("SELECT @@innodb_buffer_pool_size, @@innodb_log_file_size")
        return {"innodb_buffer_pool_size": int(pool), "innodb_log_file_size": int(log_file)}

    async def settings_advice(self) -> list[str]:
        pool, size = (await self.cache_sizes())["innodb_buffer_pool_size"], await self.size_bytes()
        return [] if size <= pool else [buffer_pool_advice(self.target.place, pool, size)]

    async def table_exists(self, name: str) -> bool:
        row = await self.fetchone(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", (name,)
        )
        return row is not None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._connection() as conn:
            await self.guard(conn.begin())
            try:
                yield MariaDBTransaction(conn, self)
            except asyncio.CancelledError:  # maybe mid-statement (a LOAD DATA sending its file): a
                conn.close()  # ROLLBACK would wait forever; the server rolls back a closed connection's work
                raise
            except BaseException:
                try:
                    await conn.rollback()
                except (pymysql.Error, OSError):
                    conn.close()
                raise
            await self.guard(conn.commit())

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[aiomysql.Connection]:
        """A connection of the pool; the driver's errors in taking it, or in a statement that
        did not pass :meth:`guard`, as the store's."""
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except (pymysql.Error, OSError) as exc:
            raise self._failed(exc) from None

    @asynccontextmanager
    async def lock(self, name: str, wait: bool = True) -> AsyncIterator[bool]:
        """A server-side named lock (GET_LOCK), released if this process dies."""
        async with self._connection() as conn, conn.cursor() as cur:
            timeout = LOCK_TIMEOUT if wait else 0
            await self.guard(cur.execute("SELECT GET_LOCK(%s, %s)", (f"dbslm:{name}"[:64], timeout)))
            (got,) = await cur.fetchone()
            if got != 1 and not wait:
                yield False
                return
            if got != 1:
                raise DbslmError(f"{self.target.place}: another process holds {name!r} for too long")
            try:
                yield True
            finally:
                try:
                    await cur.execute("SELECT RELEASE_LOCK(%s)", (f"dbslm:{name}"[:64],))
                except (pymysql.Error, OSError):
                    conn.close()  # a lost connection has released the lock server-side

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


def _format(sql: str) -> str:
    """The store's ``?`` placeholders in the driver's ``%s`` style."""
    return sql.replace("%", "%%").replace("?", "%s")


def _bound(value: Any) -> Any:
    """A value for the driver to bind: numpy's scalars as Python's."""
    return value.item() if isinstance(value, np.generic) else value


def _reason(exc: BaseException, target: MariaDBTarget) -> str:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code == 1045:
        return f"access denied for user {target.user!r} (wrong user or password)"
    if code == 1049:
        return f"database {target.database!r} does not exist (CREATE DATABASE {target.database})"
    if code == 2003:
        return "cannot connect (is the server running and reachable?)"
    if code in _LOST:
        return "the server closed the connection"
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    if target.password:
        message = message.replace(target.password, "***")
    return str(message)


def buffer_pool_advice(place: str, pool: int, size: int) -> str:
    """The warning for a buffer pool of ``pool`` bytes under a database of ``size``."""
    return (
        f"{place}: InnoDB's buffer pool ({pool / 2**20:,.0f} MB) is smaller than the database "
        f"({size / 2**20:,.0f} MB), so replies and learning wait for the disk: raise the server's "
        "innodb_buffer_pool_size to the database's size (README, Operations)"
    )


def mariadb_version(server: str) -> tuple[int, int] | None:
    """A MariaDB server's major and minor version from its handshake's version string (None:
    not MariaDB's); older servers prefix it with 5.5.5- for MySQL clients."""
    found = re.search(r"(\d+)\.(\d+)\.\d+-MariaDB", server)
    return (int(found[1]), int(found[2])) if found else None
