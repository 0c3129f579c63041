"""Creating and upgrading the schema, recorded in the ``meta`` table."""

from __future__ import annotations

import uuid

from dbslm.errors import DbslmError
from dbslm.store.database import Database
from dbslm.store.schema import ADDED, RETYPED, SCHEMA_VERSION, TABLES, Table


async def migrate(db: Database) -> None:
    """Bring ``db`` to :data:`SCHEMA_VERSION`: create the tables it lacks (version 1 creates
    every table; 2 adds ``pair_vectors`` and the community tables), then give the columns a
    later version retyped their new type and add the columns it added (2: ``pairs.meta``; 3:
    ``decode_profiles.copy_tokens``)."""
    version = await schema_version(db)
    if version > SCHEMA_VERSION:
        raise DbslmError(f"database {db.description} has schema version {version}; "
                         f"this dbslm knows up to {SCHEMA_VERSION}: upgrade dbslm")
    if version == SCHEMA_VERSION:
        return
    missing = [t for t in TABLES if not await db.table_exists(t.name)]
    async with db.transaction() as tx:
        for table in missing:
            for statement in db.dialect.create_table(table):
                await tx.execute(statement)
        if version:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for name, column in ADDED.get(step, ()):
                    if all(t.name != name for t in missing):
                        await tx.execute(db.dialect.add_column(_table(name), column))
                for name, column in RETYPED.get(step, ()):
                    for statement in db.dialect.retype(_table(name), column):
                        await tx.execute(statement)
        await tx.execute(db.dialect.upsert("meta", ("name", "value"), ("name",)),
                         ("schema_version", str(SCHEMA_VERSION)))
        if not await tx.fetchall("SELECT value FROM meta WHERE name = 'database_id'"):
            await tx.execute("INSERT INTO meta (name, value) VALUES ('database_id', ?)", (uuid.uuid4().hex,))


def _table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


async def schema_version(db: Database) -> int:
    """The schema version recorded in ``db`` (0 for an empty database)."""
    if not await db.table_exists("meta"):
        return 0
    row = await db.fetchone("SELECT value FROM meta WHERE name = ?", ("schema_version",))
    return int(row[0]) if row else 0
