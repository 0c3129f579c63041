"""All SQL lives here: one backend per dialect behind one async protocol.

``open_store(target)`` takes a SQLite path (or ``sqlite:///path``) or a MariaDB URL and
returns a migrated :class:`Store`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbslm.errors import DbslmError
from dbslm.store.database import Database
from dbslm.store.level1 import Level1Store, ModelInfo
from dbslm.store.migrations import migrate

__all__ = ["Store", "ModelInfo", "open_database", "open_store"]


@dataclass
class Store:
    """A migrated database and the repositories that speak to it."""

    db: Database
    level1: Level1Store

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> "Store":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_store(target: str, create: bool = True) -> Store:
    """Open and migrate the database named by ``target``; without ``create`` it must exist."""
    db = await open_database(target, create)
    try:
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return Store(db, Level1Store(db))


async def open_database(target: str, create: bool = True) -> Database:
    """The database named by ``target``, connected but not migrated."""
    if not target or not target.strip():
        raise DbslmError("no database given: pass --db PATH or set DBSLM_SQLITE_PATH")
    if target.startswith(("mariadb://", "mysql://")):
        from dbslm.store.mariadb import MariaDBDatabase

        return await MariaDBDatabase.open(target)
    from dbslm.store.sqlite import SQLiteDatabase

    return await SQLiteDatabase.open(target.removeprefix("sqlite:///").removeprefix("sqlite://"), create)
