"""Creating and upgrading the schema, recorded in the ``meta`` table."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import numpy as np

from dbslm.domain import COUNTS
from dbslm.errors import DbslmError
from dbslm.ngram.count_tables import count_tables
from dbslm.ngram.heads import DEFAULT_HEAD_SIZE
from dbslm.ngram.tables import counts_from_rows
from dbslm.store.build_rows import count_rows
from dbslm.store.database import Database, Transaction
from dbslm.store.queue import FORGETTING, LEARNED, QUEUED
from dbslm.store.schema import ADDED, INDEXED, RETYPED, SCHEMA_VERSION, TABLES, Table

log = logging.getLogger(__name__)


async def migrate(db: Database) -> None:
    """Bring ``db`` to :data:`SCHEMA_VERSION`: create the tables it lacks (version 1 creates
    every table; 2 adds ``pair_vectors`` and the community tables; 4 ``queues``; 9 the Slack
    installation tables), then give the columns a later version retyped their new type, add the
    columns and indexes it added (2: ``pairs.meta``; 3: ``decode_profiles.copy_tokens``; 4:
    ``learned.seq``; 8: the count form's columns) and convert the rows it stores differently (4:
    the learning queue; 8: the trained builds, to count form; 10: the learning queue's rows, in
    queue order). Processes opening the database at once migrate it once: the first under a
    lock, the others find it done."""
    if await schema_version(db) != SCHEMA_VERSION:
        async with db.lock("schema"):
            version, started = await schema_version(db), time.monotonic()
            upgrading = 0 < version < SCHEMA_VERSION  # said in the log: a large database takes a while
            if upgrading:
                log.info("upgrading %s from schema version %d to %d ...", db.description, version, SCHEMA_VERSION)
            await _upgrade(db, version)
            if upgrading:
                log.info("upgraded %s in %.1f s", db.description, time.monotonic() - started)


async def _upgrade(db: Database, version: int) -> None:
    """Bring ``db`` from schema ``version`` to :data:`SCHEMA_VERSION` (see :func:`migrate`)."""
    if version > SCHEMA_VERSION:
        raise DbslmError(
            f"database {db.description} has schema version {version}; "
            f"this dbslm knows up to {SCHEMA_VERSION}: upgrade dbslm"
        )
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
                for name, columns in RETYPED.get(step, ()):
                    for statement in db.dialect.retype(_table(name), columns):
                        await tx.execute(statement)
                for name, columns in INDEXED.get(step, ()):
                    if all(t.name != name for t in missing):
                        await tx.execute(db.dialect.create_index(name, columns))
                if step in CONVERTED:
                    await CONVERTED[step](tx)
        await tx.execute(
            db.dialect.upsert("meta", ("name", "value"), ("name",)), ("schema_version", str(SCHEMA_VERSION))
        )
        if not await tx.fetchall("SELECT value FROM meta WHERE name = 'database_id'"):
            await tx.execute("INSERT INTO meta (name, value) VALUES ('database_id', ?)", (uuid.uuid4().hex,))


async def _number_the_queue(tx: Transaction) -> None:
    """Version 4 orders the learning queue by sequence number instead of a status per row:
    rows the model learned (or is to subtract) get 0, waiting ones 1, 2, ... per model in key
    order, and each model's ``queues`` row counts them."""
    await tx.execute("UPDATE learned SET seq = 0, status = ? WHERE status = ?", (QUEUED, LEARNED))
    await tx.execute("UPDATE learned SET seq = 0 WHERE status = ?", (FORGETTING,))
    # MariaDB commits the version's DDL at once, so each statement here commits on its own: a
    # conversion cut short is run again, numbering on after the rows it numbered.
    last = {
        m: int(n)
        for m, n in await tx.fetchall("SELECT model_id, MAX(seq) FROM learned WHERE seq IS NOT NULL GROUP BY model_id")
    }
    waiting = await tx.fetchall(
        "SELECT model_id, message_key FROM learned WHERE seq IS NULL ORDER BY model_id, message_key"
    )
    numbered = []
    for model_id, key in waiting:
        last[model_id] = last.get(model_id, 0) + 1
        numbered.append((last[model_id], QUEUED, model_id, key))
    await tx.executemany("UPDATE learned SET seq = ?, status = ? WHERE model_id = ? AND message_key = ?", numbered)
    await tx.execute("DELETE FROM queues")  # only what a conversion cut short wrote: version 3 had no queues
    await tx.execute(
        "INSERT INTO queues (model_id, queued, learned, dropped) "
        "SELECT model_id, MAX(seq), 0, 0 FROM learned GROUP BY model_id"
    )


async def _search_responses(tx: Transaction) -> None:
    """Version 5 indexes each searchable column on its own (responses too): SQLite's old
    index over prompts (``pairs_fts``) gives way to one FTS table per column. Stored sentence
    vectors were of prompts; responses are ranked now, so they are made again on first use.
    The default acknowledgement of a correction names its question (unless it was edited)."""
    await tx.execute("DELETE FROM pair_vectors")
    await tx.execute(
        "UPDATE concepts SET template = ? WHERE model_id = 0 AND name = 'acknowledge' AND template = ?",
        (
            "Thanks! From now on I will answer {question} with: {answer}",
            "Thanks! From now on I will answer that with: {answer}",
        ),
    )
    if tx.dialect.name == "sqlite":
        for statement in (
            "DROP TRIGGER IF EXISTS pairs_fts_ai",
            "DROP TRIGGER IF EXISTS pairs_fts_ad",
            "DROP TABLE IF EXISTS pairs_fts",
        ):
            await tx.execute(statement)
    pairs = _table("pairs")
    for column in pairs.search:
        for statement in tx.dialect.search_index(pairs, column):
            await tx.execute(statement)


async def _count_form(tx: Transaction) -> None:
    """Version 8 keeps counts and computes probabilities as they are read: each model's
    active build trained from text is written again in count form from its raw counts. An
    ARPA import, and a build with contexts in cold storage (its next training writes it
    anew), keep their probabilities; the builds that no model serves are purged anyway."""
    active = "id IN (SELECT active_build FROM models) AND source <> 'arpa' AND id NOT IN (SELECT build FROM flushed)"
    await tx.execute(f"UPDATE builds SET form = 'probabilities' WHERE form IS NULL AND NOT ({active})")
    for build, order in await tx.fetchall(f"SELECT id, ngram_order FROM builds WHERE form IS NULL AND {active}"):
        rows = [
            np.array(
                await tx.fetchall("SELECT ctx, word, count FROM ngrams WHERE build = ? AND n = ?", (build, n)),
                dtype=np.int64,
            ).reshape(-1, 3)
            for n in range(1, order + 1)
        ]
        ((widest,),) = await tx.fetchall("SELECT MAX(LENGTH(words)) FROM heads WHERE build = ?", (build,))
        head_size = widest // 4 if widest else DEFAULT_HEAD_SIZE  # int32 ids

        def tables(build: int = build, rows: list[np.ndarray] = rows, head_size: int = head_size) -> list:
            counts = counts_from_rows([(r[:, 0], r[:, 1], r[:, 2]) for r in rows])
            return list(count_rows(build, count_tables(counts, head_size)))

        written = await asyncio.to_thread(tables)
        for table in ("ngrams", "heads", "quant", "discounts", "contexts"):  # contexts: a conversion cut short
            await tx.execute(f"DELETE FROM {table} WHERE build = ?", (build,))
        for table, columns, values in written:
            await tx.insert_rows(table, columns, values)
        await tx.execute(
            "UPDATE builds SET form = ?, version = 0, head_size = ? WHERE id = ?", (COUNTS, head_size, build)
        )


async def _learned_in_queue_order(tx: Transaction) -> None:
    """Version 10 stores the learning queue's rows in the order they were queued, under a
    serial id, with the message key a unique index: a backfill appends its rows instead of
    inserting them all over the table, and the indexes hold an id in place of the key."""
    if await tx.has_column("learned", "id"):
        return  # converted already (MariaDB: by a run cut short before it recorded the version)
    for statement in tx.dialect.add_serial_key(_table("learned"), order="model_id, seq, message_key"):
        await tx.execute(statement)


# a version's conversion of the rows it stores differently
CONVERTED = {4: _number_the_queue, 5: _search_responses, 8: _count_form, 10: _learned_in_queue_order}


def _table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


async def schema_version(db: Database) -> int:
    """The schema version recorded in ``db`` (0 for an empty database)."""
    if not await db.table_exists("meta"):
        return 0
    row = await db.fetchone("SELECT value FROM meta WHERE name = ?", ("schema_version",))
    return int(row[0]) if row else 0
