"""All SQL lives here: one backend per dialect behind one async protocol.

``open_store(target)`` takes a SQLite path (or ``sqlite:///path``) or a MariaDB URL and
returns a migrated :class:`Store`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.store.cold import ColdStorage
from dbslm.store.conversations import ConversationStore
from dbslm.store.database import Database
from dbslm.store.migrations import migrate
from dbslm.store.models import ModelStore

__all__ = ["Store", "ModelInfo", "open_database", "open_store"]
log = logging.getLogger(__name__)


@dataclass
class Store:
    """A migrated database, its cold tier if it has one, and the repositories that use them."""

    db: Database
    models: ModelStore
    cold: ColdStorage | None = None
    conversations: ConversationStore = field(init=False)  # one per database: replies' logs share commits

    def __post_init__(self) -> None:
        self.conversations = ConversationStore(self.db)

    async def attach_cold(self, url: str) -> ColdStorage:
        """The MariaDB cold tier at ``url``, connected on first use."""
        if self.cold is None:
            remote = await open_database(url)
            try:
                self.cold = await ColdStorage.attach(self.db, remote)
            except BaseException:
                await remote.close()
                raise
            self.models.cold = self.cold
        return self.cold

    async def close(self) -> None:
        await self.models.purges.settle()
        if self.cold is not None:
            await self.cold.remote.close()
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_store(target: str, create: bool = True, cold_url: str | None = None) -> Store:
    """Open and migrate the database named by ``target``; without ``create`` it must exist.

    What interrupted trainings left is removed (logged as a warning). ``cold_url`` names the
    MariaDB cold tier of a SQLite file, attached when the file has flushed contexts (opening
    such a file without one is an error); :meth:`Store.attach_cold` attaches one at any time.
    """
    db = await open_database(target, create)
    store = Store(db, ModelStore(db))
    try:
        await migrate(db)
        if db.dialect.name == "sqlite" and await db.fetchone("SELECT 1 FROM flushed LIMIT 1"):
            if cold_url is None:
                raise DbslmError(
                    f"{db.description} keeps contexts in cold storage on MariaDB: name that "
                    "database (DBSLM_MARIADB_*) to open it"
                )
            await store.attach_cold(cold_url)
        for line in await store.models.clean_up():  # with the cold tier: a build's cold rows go too
            log.warning("%s: %s", db.description, line)
        for line in await db.settings_advice():
            log.warning("%s", line)
    except BaseException:
        await db.close()
        raise
    return store


async def open_database(target: str, create: bool = True) -> Database:
    """The database named by ``target``, connected but not migrated."""
    if not target or not target.strip():
        raise DbslmError("no database given: pass --db PATH or set DBSLM_SQLITE_PATH")
    if target.startswith(("mariadb://", "mysql://")):
        from dbslm.store.mariadb import MariaDBDatabase

        return await MariaDBDatabase.open(target)
    from dbslm.store.sqlite import SQLiteDatabase

    return await SQLiteDatabase.open(target.removeprefix("sqlite:///").removeprefix("sqlite://"), create)
