"""Migration SQLite -> MariaDB, through a SQL file and straight into the server."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dbslm.store.mariadb import parse_url
from dbslm.store.schema import SCHEMA_VERSION, TABLES
from tests.helpers import (
    assert_refused,
    execute,
    fresh_mariadb,
    is_sqlite,
    table_rows,
    undo_version_6,
    undo_version_8,
    undo_version_10,
)


def everything(db: str) -> dict[str, list[tuple]]:
    return {t.name: sorted(table_rows(db, f"SELECT * FROM {t.name}")) for t in TABLES}


@pytest.fixture
def source(cli, tmp_path, kjv) -> str:
    path = str(tmp_path / "source.sqlite3")
    assert cli("train", kjv / "train.txt", "--db", path, "--tokenizer", "whitespace").code == 0
    assert cli("train", kjv / "test.txt", "--db", path, "--model", "other").code == 0
    return path


def test_apply_evaluates_identically_and_incremental_is_idempotent(cli, source, kjv, mariadb_url):
    expected = cli("eval", kjv / "test.txt", "--db", source, "--json").json()
    assert cli("migrate", "--sqlite", source, "--apply", "--to", mariadb_url).code == 0
    assert cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json() == expected
    assert everything(mariadb_url) == everything(source)
    assert_refused(cli("migrate", "--sqlite", source, "--apply", "--to", mariadb_url), "--incremental")
    for _ in range(2):
        assert cli("migrate", "--sqlite", source, "--apply", "--to", mariadb_url, "--incremental").code == 0
        assert everything(mariadb_url) == everything(source)


def test_sql_file_replays_to_the_same_model(cli, source, kjv, tmp_path):
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("no mariadb command-line client")
    expected = cli("eval", kjv / "test.txt", "--db", source, "--json").json()
    dump = tmp_path / "model.sql"
    assert cli("migrate", "--sqlite", source, "--output", dump, "--drop-existing").code == 0
    with fresh_mariadb() as url:
        t = parse_url(url)
        with dump.open("rb") as sql:
            subprocess.run([client, "-h", t.host, "-P", str(t.port), "-u", t.user, t.database], stdin=sql, check=True)
        assert cli("eval", kjv / "test.txt", "--db", url, "--json").json() == expected
        assert everything(url) == everything(source)


def test_migrate_refusals(cli, tmp_path):
    assert_refused(
        cli("migrate", "--sqlite", tmp_path / "missing.sqlite3", "--output", tmp_path / "x.sql"), "no database"
    )
    assert_refused(cli("migrate", "--sqlite", tmp_path / "x.sqlite3"), "--output")


async def test_a_version_1_database_is_upgraded_in_place(db):
    from dbslm.engine import DBSLMEngine

    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello there", "hi, nice to meet you")])
    await engine.respond(await engine.start_conversation("ann"), "hello", seed=1)  # writes the decode profile
    await engine.close()
    undo_version_6(db)
    for table in ("pair_vectors", "channels", "optouts", "banned_words", "learned", "queues"):
        execute(db, f"DROP TABLE {table}")
    execute(db, "ALTER TABLE pairs DROP COLUMN meta")
    execute(db, "ALTER TABLE decode_profiles DROP COLUMN copy_tokens")
    execute(db, "ALTER TABLE decode_profiles DROP COLUMN prompt_weight")
    if not is_sqlite(db):  # version 1's channel keys were VARCHAR(64)
        execute(
            db,
            "ALTER TABLE conversations MODIFY channel_key VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
        )
    execute(db, "UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    engine = await DBSLMEngine.open(db)
    reply = await engine.respond(await engine.start_conversation("ann"), "hello there", seed=1)
    thread = "discord:" + ":".join(["123456789012345678901"] * 4)  # a guild, channel and thread: 95 characters
    await engine.conversation_for_channel(thread, "ann")
    await engine.close()
    assert reply.text == "hi, nice to meet you"
    assert table_rows(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert table_rows(db, "SELECT COUNT(*) FROM pair_vectors") == [(0,)]
    assert table_rows(db, "SELECT max_tokens, copy_tokens, prompt_weight FROM decode_profiles") == [(40, None, None)]
    assert table_rows(db, "SELECT prompt, meta FROM pairs") == [("hello there", None)]
    assert table_rows(db, "SELECT COUNT(*) FROM conversations WHERE channel_key = ?", (thread,)) == [(1,)]


async def queued_and_learned(db: str, learned: int, waiting: int) -> int:
    """A trained model that learned ``learned`` channel messages and has ``waiting`` more queued
    (keys discord:c:0, 1, ...); returns its id."""
    from dbslm.domain import ChannelMessage
    from dbslm.engine import DBSLMEngine

    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello there", "hi, nice to meet you")])
    model_id = await engine.model_id()
    rows = [
        ChannelMessage(f"discord:c:{i}", "ann", "discord:c", f"the heron number {i} waits")
        for i in range(learned + waiting)
    ]
    await engine.learning.queue(rows[:learned])
    await engine.learning.learn_queued()
    await engine.learning.queue(rows[learned:])
    await engine.close()
    return model_id


async def test_a_version_3_learning_queue_is_numbered_in_place(db):
    from dbslm.engine import DBSLMEngine

    model_id = await queued_and_learned(db, 3, 0)
    # version 3 kept each message's state in its status, and had no sequence numbers
    execute(db, "DELETE FROM learned WHERE message_key = 'discord:c:2'")
    execute(db, "UPDATE learned SET status = 'forgetting' WHERE message_key = 'discord:c:0'")
    execute(db, "UPDATE learned SET status = 'learned' WHERE message_key = 'discord:c:1'")
    execute(
        db,
        "INSERT INTO learned (model_id, message_key, user_id, channel_key, text, status, created_at) "
        f"VALUES ({model_id}, 'discord:c:5', 'ann', 'discord:c', 'the heron number 5 waits', 'pending', 0), "
        f"({model_id}, 'discord:c:4', 'ann', 'discord:c', 'the heron number 4 waits', 'learning', 0)",
    )
    undo_version_6(db)
    execute(db, "DROP INDEX learned_model_id_seq" + (" ON learned" if not is_sqlite(db) else ""))
    execute(db, "ALTER TABLE learned DROP COLUMN seq")
    execute(db, "DROP TABLE queues")
    execute(db, "ALTER TABLE decode_profiles DROP COLUMN prompt_weight")
    execute(db, "UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    engine = await DBSLMEngine.open(db)
    states = {m.message_key: m.status for m in await engine.learning.messages()}
    assert states == {
        "discord:c:0": "forgetting",
        "discord:c:1": "learned",
        "discord:c:4": "queued",
        "discord:c:5": "queued",
    }
    assert await engine.learning.heard.models_waiting() == [engine.model_name]
    report = await engine.learning.learn_queued()
    states = {m.message_key: m.status for m in await engine.learning.messages()}
    await engine.close()
    assert report.sentences == 2
    assert states == {
        "discord:c:0": "forgetting",
        "discord:c:1": "learned",
        "discord:c:4": "learned",
        "discord:c:5": "learned",
    }
    assert table_rows(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [(str(SCHEMA_VERSION),)]


async def test_a_version_9_learning_queue_is_stored_in_queue_order(db, caplog):
    from dbslm.domain import ChannelMessage
    from dbslm.engine import DBSLMEngine

    model_id = await queued_and_learned(db, 2, 3)
    queue = "SELECT model_id, message_key, user_id, channel_key, text, status, created_at, seq FROM learned"
    before = sorted(table_rows(db, queue))
    undo_version_10(db)
    caplog.set_level("INFO", logger="dbslm.store.migrations")
    for _ in range(2):  # the second start finds the rows converted (as a run cut short on MariaDB leaves them)
        engine = await DBSLMEngine.open(db)
        await engine.close()
        execute(db, "UPDATE meta SET value = '9' WHERE name = 'schema_version'")
    said = [r.getMessage() for r in caplog.records if r.name == "dbslm.store.migrations"]  # the operator hears it
    assert len(said) == 4 and said[0].endswith(f"from schema version 9 to {SCHEMA_VERSION} ...")
    engine = await DBSLMEngine.open(db)
    assert sorted(table_rows(db, queue)) == before
    ids_by_seq = [i for i, _ in sorted(table_rows(db, "SELECT id, seq FROM learned"), key=lambda r: r[1])]
    assert ids_by_seq == sorted(ids_by_seq)  # stored in queue order
    again = ChannelMessage("discord:c:4", "ann", "discord:c", "the heron number 4 waits")
    fresh = ChannelMessage("discord:c:9", "bob", "discord:c", "a new heron waits")
    assert await engine.learning.queue([again, fresh]) == 1  # the key is still unique
    report = await engine.learning.learn_queued()
    states = {m.message_key: m.status for m in await engine.learning.messages()}
    await engine.close()
    assert report.sentences == 4
    assert set(states.values()) == {"learned"} and len(states) == 6
    ((queued, learned),) = table_rows(db, "SELECT queued, learned FROM queues WHERE model_id = ?", (model_id,))
    assert learned == queued
    assert table_rows(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [(str(SCHEMA_VERSION),)]


async def test_a_queue_conversion_cut_short_on_mariadb_runs_again(mariadb_url):
    """MariaDB commits DDL at once, so version 4's conversion commits statement by statement: cut
    short after numbering some waiting rows (and writing the queues), it is run again at the
    next start and numbers on."""
    from dbslm.engine import DBSLMEngine

    model_id = await queued_and_learned(mariadb_url, 2, 3)  # the waiting ones numbered 3, 4 and 5
    # as the cut-short conversion left them: learned rows at 0, two waiting ones numbered, one not yet
    execute(mariadb_url, "UPDATE learned SET seq = 0 WHERE message_key IN ('discord:c:0', 'discord:c:1')")
    execute(mariadb_url, "UPDATE learned SET seq = NULL, status = 'pending' WHERE message_key = 'discord:c:4'")
    execute(mariadb_url, "ALTER TABLE decode_profiles DROP COLUMN prompt_weight")
    execute(mariadb_url, "UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    engine = await DBSLMEngine.open(mariadb_url)
    seqs = dict(table_rows(mariadb_url, "SELECT message_key, seq FROM learned"))
    states = {m.message_key: m.status for m in await engine.learning.messages()}
    report = await engine.learning.learn_queued()
    await engine.close()
    assert seqs == {
        "discord:c:0": 0,
        "discord:c:1": 0,
        "discord:c:2": 3,
        "discord:c:3": 4,
        "discord:c:4": 5,
    }  # numbered on after the highest number
    assert states == {
        "discord:c:0": "learned",
        "discord:c:1": "learned",
        "discord:c:2": "queued",
        "discord:c:3": "queued",
        "discord:c:4": "queued",
    }
    assert report.sentences == 3
    assert table_rows(mariadb_url, "SELECT queued, learned FROM queues WHERE model_id = ?", (model_id,)) == [(5, 5)]


async def test_a_version_7_model_is_written_in_count_form_and_scores_the_same(db):
    from dbslm.engine import DBSLMEngine
    from dbslm.evaluation import evaluate

    lines = ["the heron waits by the river", "the river runs to the sea", "a heron flies over the sea"] * 3
    test = [["the", "heron", "runs", "to", "the", "river"]]
    engine = await DBSLMEngine.open(db)
    await engine.train_text(lines)
    before = await evaluate(engine.store, await engine.store.models.model("base"), test)
    heads = table_rows(db, "SELECT n, ctx, total, n1, n2, n3, head_words, head_counts FROM contexts ORDER BY n, ctx")
    await engine.close()
    undo_version_8(db)
    engine = await DBSLMEngine.open(db)
    after = await evaluate(engine.store, await engine.store.models.model("base"), test)
    reply = await engine.respond(await engine.start_conversation("ann"), "the heron", seed=1)
    await engine.close()
    assert after == before and reply.text
    assert table_rows(db, "SELECT form, COUNT(*) FROM builds GROUP BY form") == [("counts", 1)]
    assert table_rows(db, "SELECT COUNT(*) FROM ngrams WHERE logp IS NOT NULL OR q IS NOT NULL") == [(0,)]
    assert (
        table_rows(db, "SELECT n, ctx, total, n1, n2, n3, head_words, head_counts FROM contexts ORDER BY n, ctx")
        == heads
    )
