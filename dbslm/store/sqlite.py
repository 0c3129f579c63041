"""The embedded backend: one SQLite file through aiosqlite.

WAL journal and ``synchronous=NORMAL``; one writer connection (writes serialized by a lock,
each in an explicit transaction) and READERS reading connections that see committed data only
(a read goes to the one with the fewest under way).
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Any

import aiosqlite

from dbslm.errors import DatabaseError, DbslmError
from dbslm.store.database import Database, Row, Transaction
from dbslm.store.dialect import SQLiteDialect

log = logging.getLogger(__name__)
# secure_delete: deleted rows are overwritten, so a forgotten person's text is gone from the file
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA secure_delete=ON",
)
READERS = 2  # reading connections: a long read (a batch's queued messages, an export) holds up one, not every reply
# Taking the write lock from another process is retried here every few milliseconds (SQLite's
# own busy handler sleeps up to 100 ms at a time, and so misses the short gaps between the parts
# of a build that another process writes): a reply's log waits for one part, not for the build.
# A process retrying holds a shared flock on <file>.waiting, so a long write pauses between its
# parts only while somebody waits.
WRITE_WAIT_SECONDS = 30.0
WRITE_RETRY_SECONDS = 0.002
PART_PAUSE_SECONDS = 0.004  # after a part of a long write, while another process waits: two of its retries


class SQLiteTransaction(Transaction):
    dialect = SQLiteDialect()

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(sql, params)
        return cursor.lastrowid or 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        cursor = await self._conn.executemany(sql, rows)
        return max(cursor.rowcount, 0)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))


class SQLiteDatabase(Database):
    dialect = SQLiteDialect()

    def __init__(self, path: Path, writer: aiosqlite.Connection, readers: list[aiosqlite.Connection]) -> None:
        self.path = path
        self.description = str(path)
        self._writer = writer
        self._readers = readers
        self._reads = [0] * len(readers)  # under way on each reading connection
        self._write_lock = asyncio.Lock()
        self._named_locks: dict[str, asyncio.Lock] = {}
        self._file_lock = asyncio.Lock()  # taking the flock of <file>.lock, or giving it up
        self._file: IO[bytes] | None = None  # <file>.lock while this process holds its flock ...
        self._file_holders = 0  # ... for this many of its named locks
        self._waiting = f"{path}.waiting"  # flock-shared by processes waiting to write
        self._asking: IO[bytes] | None = None  # <file>.waiting, open while this process writes builds

    @classmethod
    async def open(cls, path: str | Path, create: bool = True) -> SQLiteDatabase:
        """Open the SQLite file at ``path``, creating it and its folder if ``create``."""
        path = Path(path)
        if not create and not path.is_file():
            raise DbslmError(f"no database at {path}")
        try:
            for folder in (path.parent, *path.parent.parents):
                if folder.exists() and not folder.is_dir():
                    raise DbslmError(f"cannot open database {path}: {folder} is a file, not a folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = await aiosqlite.connect(path, isolation_level=None)
        except OSError as exc:
            raise DatabaseError(f"cannot open database {path}: {exc.strerror or exc}") from None
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {path}: {_reason(exc)}") from None
        readers: list[aiosqlite.Connection] = []
        try:
            for pragma in (*PRAGMAS, "PRAGMA busy_timeout=1"):  # the writer's waits: see WRITE_WAIT_SECONDS
                # (turning a new file to WAL while another process opens it too fails at once: retried)
                await _while_locked(functools.partial(writer.execute, pragma))
            for _ in range(READERS):
                readers.append(await aiosqlite.connect(path, isolation_level=None))
                for pragma in PRAGMAS[2:]:
                    await readers[-1].execute(pragma)
        except sqlite3.Error as exc:
            for connection in (writer, *readers):
                await connection.close()
            raise DatabaseError(f"cannot use database {path}: {_reason(exc)}") from None
        return cls(path, writer, readers)

    @contextmanager
    def _reader(self) -> Iterator[aiosqlite.Connection]:
        """The reading connection with the fewest reads under way, for the block."""
        i = min(range(len(self._readers)), key=self._reads.__getitem__)
        self._reads[i] += 1
        try:
            yield self._readers[i]
        finally:
            self._reads[i] -= 1

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._reader() as reader:
                return list(await reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: sqlite3.Error) -> DatabaseError:
        """The driver's error as the store's (every statement's error passes here)."""
        return DatabaseError(f"database {self.path}: {_reason(exc)}")

    async def let_others_write(self) -> None:
        if self._others_wait():
            await asyncio.sleep(PART_PAUSE_SECONDS)

    def _others_wait(self) -> bool:
        """Whether another process waits for the write lock (holds ``<file>.waiting`` shared;
        True when that file cannot be opened)."""
        try:
            if self._asking is None:
                self._asking = open(self._waiting, "a+b")  # kept open: a build asks after every part
            fcntl.flock(self._asking, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a waiting process (or no file to ask: pause, to be safe)
            return True
        fcntl.flock(self._asking, fcntl.LOCK_UN)
        return False

    async def backup(self, target: Path) -> None:
        """SQLite's online backup through the reading connection: one read transaction, so the
        copy is of one moment while writers go on (the write-ahead log keeps readers apart)."""
        try:
            async with aiosqlite.connect(target, isolation_level=None) as copy:
                with self._reader() as reader:
                    await reader.backup(copy)
                (verdict,) = (await copy.execute_fetchall("PRAGMA quick_check"))[0]
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot back up {self.path} to {target}: {_reason(exc)}") from None
        if verdict != "ok":
            raise DatabaseError(f"the backup of {self.path} at {target} failed its check: {verdict}")

    async def erase_deleted(self) -> None:
        """Leave no copy of deleted rows anywhere in the files: merge the full-text indexes
        (whose old segments keep deleted words) and fold the write-ahead log into the file."""
        for (name,) in await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'"
        ):
            async with self.transaction() as tx:
                await tx.execute(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
        async with self._write_lock:  # retried, as a transaction's start is, while others use the file
            deadline = time.monotonic() + WRITE_WAIT_SECONDS
            while await self._checkpoint_busy():
                if time.monotonic() > deadline:  # the rows are deleted; their old pages wait for the next one
                    log.warning("could not empty the write-ahead log of %s: the database stayed busy", self.path)
                    return
                await asyncio.sleep(WRITE_RETRY_SECONDS)

    async def _checkpoint_busy(self) -> bool:
        """Fold the write-ahead log into the file; whether a reader kept it from finishing."""
        try:
            return bool((await self._writer.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))[0][0])
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    async def size_bytes(self) -> int:
        pages, size = await self.fetchone("SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()")
        return int(pages) * int(size)

    async def table_exists(self, name: str) -> bool:
        row = await self.fetchone("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return row is not None

    async def iterate(self, sql: str, params: Sequence[Any] = (), batch: int = 50000) -> AsyncIterator[list[Row]]:
        try:
            with self._reader() as reader:
                cursor = await reader.execute(sql, params)
                try:
                    while rows := await cursor.fetchmany(batch):
                        yield list(rows)
                finally:
                    await cursor.close()
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._write_lock:
            try:
                await self._begin()
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot write to database {self.path}: {_reason(exc)}") from None
            except BaseException:  # cancelled: aiosqlite's thread may still have begun it
                await asyncio.shield(self._rollback())
                raise
            try:
                yield SQLiteTransaction(self._writer)
            except sqlite3.Error as exc:  # a statement's
                await asyncio.shield(self._rollback())
                raise self._failed(exc) from None
            except BaseException:
                await asyncio.shield(self._rollback())  # finished even if cancelled again
                raise
            try:
                await self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._rollback()
                raise DatabaseError(f"cannot write to database {self.path}: {_reason(exc)}") from None
            except BaseException:
                await asyncio.shield(self._rollback())
                raise

    async def _begin(self) -> None:
        """Take the file's write lock, retrying every WRITE_RETRY_SECONDS while another process
        holds it (for WRITE_WAIT_SECONDS at most), saying meanwhile that this process waits."""
        waiting: list[IO[bytes]] = []  # <file>.waiting, opened at the first retry

        def say_waiting() -> None:
            try:
                if not waiting:
                    waiting.append(open(self._waiting, "a+b"))
                fcntl.flock(waiting[0], fcntl.LOCK_SH | fcntl.LOCK_NB)  # a writer checking holds it a moment
            except OSError:  # that moment (asked again at the next retry), or no file to open
                pass

        try:
            await _while_locked(lambda: self._writer.execute("BEGIN IMMEDIATE"), say_waiting)
        finally:
            for handle in waiting:
                handle.close()

    async def _rollback(self) -> None:
        """Roll back the writer's transaction, if one is open (statements run in order on
        aiosqlite's thread, so this comes after any that was still running)."""
        try:
            await self._writer.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise

    @asynccontextmanager
    async def lock(self, name: str, wait: bool = True) -> AsyncIterator[bool]:
        """A lock among this file's users: an asyncio lock per name within the process, and
        across processes an exclusive ``flock`` on ``<file>.lock`` (released by the kernel if one
        dies), which the process holds while it holds any named lock (so that one lock can be
        taken inside another)."""
        local = self._named_locks.setdefault(name, asyncio.Lock())
        if not wait and (local.locked() or self._file_lock.locked()):
            yield False
            return
        async with local:
            if not await self._hold_file(wait):  # another process holds it
                yield False
                return
            try:
                yield True
            finally:
                self._file_holders -= 1
                if not self._file_holders:
                    fcntl.flock(self._file, fcntl.LOCK_UN)
                    self._file.close()
                    self._file = None

    async def _hold_file(self, wait: bool) -> bool:
        """Count one more named lock held, taking the file's flock first unless this process
        holds it already; False (without ``wait``) when another process holds it."""
        async with self._file_lock:
            if self._file is None:
                handle = open(f"{self.path}.lock", "a+b")  # kept open while the flock is held
                try:
                    if wait:
                        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
                    else:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    handle.close()
                    return False
                except BaseException:
                    handle.close()
                    raise
                self._file = handle
            self._file_holders += 1
            return True

    async def close(self) -> None:
        for reader in self._readers:
            await reader.close()
        await self._writer.close()
        if self._asking is not None:
            self._asking.close()


async def _while_locked(statement: Callable[[], Awaitable[object]], busy: Callable[[], None] = lambda: None) -> None:
    """Run ``statement()``, again every WRITE_RETRY_SECONDS while another process holds the
    file's lock (for WRITE_WAIT_SECONDS at most), calling ``busy()`` before each wait."""
    deadline = time.monotonic() + WRITE_WAIT_SECONDS
    while True:
        try:
            await statement()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        busy()
        await asyncio.sleep(WRITE_RETRY_SECONDS)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
