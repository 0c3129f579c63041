"""Writes on both backends: bulk inserts (insert_rows) keep every value exactly (the MariaDB
path goes through LOAD DATA, where text must be escaped and bytes hexed), a transaction
cancelled anywhere leaves the database writable, named locks nest, and logs written in one
commit each get their own ids."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dbslm.domain import LogEntry
from dbslm.errors import DatabaseError, DbslmError
from dbslm.store import open_database, open_store
from dbslm.store.build_rows import stopped

HOSTILE = [
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "\\N",
    "nul\0byte",
    "cr\rlf\r\n",
    "emoji 🙂 ok",
    "Ünïcode والعربية 中文",
    "'; DROP TABLE bulk; --",
    "",
]


@pytest.fixture
async def bulk(db):
    """A database with an empty table ``bulk``."""
    database = await open_database(db)
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE bulk (k BIGINT NOT NULL PRIMARY KEY, t TEXT, b BLOB, r DOUBLE, f BIGINT)")
    yield database
    await database.close()


@pytest.mark.parametrize("nulls", [7, None])  # a text column with NULLs, and one of strings only
async def test_values_survive_a_bulk_insert(bulk, nulls):
    count = 5000  # past the size where MariaDB switches to LOAD DATA
    texts = [HOSTILE[i % len(HOSTILE)] if nulls is None or i % nulls else None for i in range(count)]
    blobs = [bytes([i % 256, 0, 9, 10, 92, 255]) if i % 5 else None for i in range(count)]
    reals = [i / 3 - 700.0 for i in range(count)]
    flags = [i % 2 == 0 for i in range(count)]
    async with bulk.transaction() as tx:
        await tx.insert_rows("bulk", ("k", "t", "b", "r", "f"), [list(range(count)), texts, blobs, reals, flags])
    rows = await bulk.fetchall("SELECT k, t, b, r, f FROM bulk ORDER BY k")
    assert [(k, t, None if b is None else bytes(b), r, f) for k, t, b, r, f in rows] == list(
        zip(range(count), texts, blobs, reals, map(int, flags))
    )


@pytest.mark.parametrize("count", [30, 3000])  # multi-row INSERTs, and LOAD DATA on MariaDB
async def test_a_value_given_once_goes_into_every_row(bulk, count):
    async with bulk.transaction() as tx:
        await tx.insert_rows(
            "bulk",
            ("k", "t", "b", "r", "f"),
            [range(count), HOSTILE[0] + HOSTILE[3], b"\0\t\\", np.float64(-0.1), np.int64(-7)],
        )
    rows = await bulk.fetchall("SELECT t, b, r, f, COUNT(*) FROM bulk GROUP BY t, b, r, f")
    assert [(t, bytes(b), r, f, n) for t, b, r, f, n in rows] == [("tab\there\\N", b"\0\t\\", -0.1, -7, count)]


@pytest.mark.parametrize("count", [30, 3000])  # multi-row INSERTs, and LOAD DATA on MariaDB
async def test_keep_on_leaves_existing_rows_and_counts_the_new(bulk, count):
    async with bulk.transaction() as tx:
        assert await tx.insert_rows("bulk", ("k", "t"), [[0, 1], ["old", "old"]]) == 2
    async with bulk.transaction() as tx:
        new = await tx.insert_rows("bulk", ("k", "t"), [list(range(count)), ["new"] * count], keep_on=("k",))
    rows = await bulk.fetchall("SELECT t, COUNT(*) FROM bulk GROUP BY t ORDER BY t")
    assert new == count - 2
    assert rows == [("new", count - 2), ("old", 2)]


async def test_a_value_that_does_not_fit_fails_the_load(mariadb_url):
    database = await open_database(mariadb_url)
    try:
        async with database.transaction() as tx:
            await tx.execute("CREATE TABLE narrow (k BIGINT NOT NULL PRIMARY KEY, t VARCHAR(4) NOT NULL)")
        with pytest.raises(DbslmError, match="did not fit"):
            async with database.transaction() as tx:
                await tx.insert_rows("narrow", ("k", "t"), [list(range(3000)), ["fits"] * 2999 + ["too long"]])
        assert await database.fetchall("SELECT COUNT(*) FROM narrow") == [(0,)]  # nothing half-loaded
    finally:
        await database.close()


async def test_a_transaction_cancelled_anywhere_leaves_the_database_writable(bulk):
    async def write(k: int) -> None:
        async with bulk.transaction() as tx:
            await tx.execute("INSERT INTO bulk (k, t) VALUES (?, ?)", (k, "cut"))
            await tx.insert_rows("bulk", ("k", "t"), [[k + 1, k + 2], ["cut", "cut"]])

    for attempt in range(40):  # cancelled after 0, 1, 2, ... turns of the loop
        task = asyncio.create_task(write(10 * attempt))
        for _ in range(attempt % 8):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with bulk.transaction() as tx:
            await tx.execute("INSERT INTO bulk (k, t) VALUES (?, ?)", (10 * attempt + 5, "whole"))
    rows = await bulk.fetchall("SELECT k, t FROM bulk")
    assert sum(t == "whole" for _, t in rows) == 40
    cut = sorted(k for k, t in rows if t == "cut")
    assert all({k - k % 10 + j for j in range(3)} <= set(cut) for k in cut)  # each cut write all or nothing


async def test_a_driver_error_reaches_the_caller_as_the_stores_one_line(bulk):
    async with bulk.transaction() as tx:
        await tx.execute("INSERT INTO bulk (k, t) VALUES (?, ?)", (1, "one"))
    with pytest.raises(DatabaseError) as clash:
        async with bulk.transaction() as tx:
            await tx.execute("INSERT INTO bulk (k, t) VALUES (?, ?)", (1, "again"))  # the key exists
    assert "\n" not in str(clash.value)
    with pytest.raises(DatabaseError):
        await bulk.fetchall("SELECT nothing FROM bulk")
    with pytest.raises(DatabaseError):
        async for _ in bulk.iterate("SELECT nothing FROM bulk"):
            pass
    assert await bulk.fetchall("SELECT k, t FROM bulk") == [(1, "one")]  # the failed transaction left nothing


async def test_two_processes_creating_one_model_at_once_get_the_same_row(db):
    """Two bot processes meeting a new community's first message at once (on MariaDB an
    INSERT ... WHERE NOT EXISTS failed here with 'Failed to read auto-increment value')."""
    stores = [await open_store(db) for _ in range(2)]
    try:
        for i in range(40):
            first, second = await asyncio.gather(*(s.models.ensure_model(f"discord:{i}", 3, "regex") for s in stores))
            assert first.id == second.id is not None
        assert len(await stores[0].models.models([f"discord:{i}" for i in range(40)])) == 40
    finally:
        for store in stores:
            await store.close()


async def test_a_lock_taken_inside_another_is_held_against_other_processes(db):
    """As the bot's process trains the starter model under one lock and its build takes the
    model's: no wait on itself; another process (another connection) gets neither meanwhile."""
    mine, theirs = await open_database(db), await open_database(db)
    try:
        async with mine.lock("starter") as outer:
            async with asyncio.timeout(5), mine.lock("train:base") as inner:
                for name in ("starter", "train:base"):
                    async with theirs.lock(name, wait=False) as got:
                        assert outer and inner and not got
        for name in ("starter", "train:base"):
            async with theirs.lock(name, wait=False) as got:
                assert got
    finally:
        await mine.close()
        await theirs.close()


async def test_a_long_write_pauses_between_its_parts_only_while_another_process_waits(tmp_path):
    """A build writes its rows in parts and, between two, pauses only while another process
    waits for the write lock, which that process says on ``<file>.waiting`` as it retries."""
    path = str(tmp_path / "parts.sqlite3")
    mine, theirs = await open_database(path), await open_database(path)
    try:
        async with mine.transaction() as tx:
            await tx.execute("CREATE TABLE log (k INTEGER PRIMARY KEY)")
        assert not mine._others_wait()

        async def their_log() -> None:
            async with theirs.transaction() as tx:
                await tx.execute("INSERT INTO log VALUES (1)")

        async with mine.transaction():  # one part of a build
            logging = asyncio.create_task(their_log())
            await asyncio.sleep(0.05)  # they retry meanwhile
            assert mine._others_wait() and not logging.done()
        async with asyncio.timeout(5):
            await logging
        assert not mine._others_wait()
    finally:
        await mine.close()
        await theirs.close()


async def test_replies_logged_at_once_each_get_their_own_last_id(db):
    async with await open_store(db) as store:
        model = await store.models.ensure_model("m", 3, "whitespace")
        conversations = [await store.conversations.start_conversation(model.id, "u", "bot", None) for _ in range(8)]
        logs = [(c, f"{c}") for c in conversations] + [(conversations[0], "again")]  # one conversation twice

        async def log(conversation: int, text: str) -> int:
            return await store.conversations.log(
                conversation, LogEntry("user", "u", f"hi {text}"), LogEntry("bot", "bot", f"re {text}")
            )

        async with store.db.transaction():  # the writer busy: the logs below wait and share the next commit
            logging = [asyncio.create_task(log(c, text)) for c, text in logs]
            await asyncio.sleep(0.01)
        last_ids = dict(zip(logs, await asyncio.gather(*logging)))
        for conversation in conversations:
            messages = await store.conversations.history(conversation, 10)
            texts = [f"{conversation}"] + (["again"] if conversation == conversations[0] else [])
            assert [(m.role, m.text) for m in messages] == [
                (role, f"{said} {text}") for text in texts for role, said in (("user", "hi"), ("bot", "re"))
            ]
            assert [last_ids[(conversation, text)] for text in texts] == [m.id for m in messages if m.role == "bot"]


async def test_stopping_a_build_s_lanes_ends_one_that_runs_on_after_its_cancellation():
    """A driver may turn a cancellation into an ordinary end (aiomysql cut off while it sends
    a LOAD DATA file); the lane then waited for its next table forever: it is cancelled again."""
    ready: asyncio.Queue[int] = asyncio.Queue()

    async def lane() -> None:
        try:
            await asyncio.sleep(10)  # a statement under way
        except asyncio.CancelledError:
            pass  # the driver's way out: the statement just ends
        await ready.get()  # the next table, which never comes

    task = asyncio.create_task(lane())
    await asyncio.sleep(0)
    await asyncio.wait_for(stopped([task]), 5)
    assert task.cancelled()
