"""Integrity under hostile input and faults (docs/integrity.md): text every table holds, a
training that goes live whole or not at all, bounded parsing, bounded logs, and what an
interrupted training leaves cleaned at the next start. Both backends where the store is involved."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.core import BotCore
from bot.events import Message
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.reply.replier import Replier
from dbslm.store.pairs import PairStore
from dbslm.text.tokenize import MAX_TOKEN_CHARS
from dbslm.text.valid import MAX_INPUT_CHARS
from tests.helpers import (
    SETTINGS,
    assert_refused,
    assert_same_model,
    execute,
    is_sqlite,
    make,
    ngrams_by_text,
    table_rows,
)

MODEL = (
    "SELECT v.text, v.freq FROM vocab v JOIN models m ON m.id = v.model_id WHERE m.name = 'base' ORDER BY v.id",
    "SELECT g.n, g.ctx, g.word, g.count, g.logp FROM ngrams g JOIN models m ON m.active_build = g.build "
    "WHERE m.name = 'base' ORDER BY 1, 2, 3",
    "SELECT prompt, response, user_id FROM pairs ORDER BY id",
    "SELECT word, weight, vector FROM word_vectors ORDER BY model_id, word",
    "SELECT model_id, word, reply_word, score, pairs FROM reply_words ORDER BY 1, 2, 3",
)
FIRST = [
    ("hello there", "hi, how are you?"),
    ("what is a heron", "a tall grey bird"),
    ("where do herons live", "herons live by the water"),
    ("is a heron a bird", "yes, a tall grey bird"),
    ("hello again", "hi there, welcome back"),
    ("how are you", "fine, and how are you?"),
]


def model_rows(db: str) -> list[list[tuple]]:
    """The base model's vocabulary, n-grams and pairs, as an SQL shell reads them."""
    return [table_rows(db, sql) for sql in MODEL]


@pytest.fixture
def trained(cli, db, tmp_path) -> str:
    dialog = make(tmp_path, "first.ndjson", "".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in FIRST))
    assert cli("train", dialog, "--db", db).code == 0
    return db


@pytest.mark.parametrize(
    "name,data,fragments",
    [
        (
            "surrogate.ndjson",
            '{"prompt": "ok", "response": "fine"}\n{"prompt": "bad \\ud800", "response": "x"}\n',
            ["surrogate.ndjson:2:", "lone surrogate"],
        ),
        (
            "surrogate.yml",
            'conversations:\n- ["hi", "bad \\ud800 text"]\n',
            ["surrogate.yml: conversation 1", "surrogate"],
        ),
        ("nested.json", "[" * 100_000 + "]" * 100_000, ["nested.json: malformed JSON (nested deeper"]),
        (
            "number.ndjson",
            '{"prompt": "a", "response": "b", "n": ' + "9" * 100_000 + "}\n",
            ["number.ndjson:1:", "digits"],
        ),
        ("aliases.yml", "conversations:\n- &a [lol, lol, lol]\n- [*a, *a, *a]\n", ["aliases.yml:3: YAML aliases"]),
        ("deep.yml", "conversations: " + "[" * 100_000 + "]" * 100_000, ["deep.yml: malformed YAML (nested deeper"]),
    ],
)
def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(cli, trained, tmp_path, name, data, fragments):
    before = model_rows(trained)
    assert_refused(cli("train", make(tmp_path, name, data), "--db", trained), *fragments)
    assert model_rows(trained) == before


def test_a_malformed_mariadb_url_is_one_line(cli, tmp_path):
    assert_refused(
        cli("train", make(tmp_path, "a.txt", "a b c\n"), "--db", "mariadb://root@[::1/test"), "MariaDB URL is malformed"
    )
    assert_refused(
        cli(
            "train", make(tmp_path, "a.txt", "a b c\n"), "--db", "mariadb://root@127.0.0.1/test?slab_engine=InnoDB;DROP"
        ),
        "slab_engine must be one of",
    )


@pytest.mark.parametrize("step", ["add_pairs", "write_word_vectors"])
async def test_a_failure_in_the_switch_leaves_the_previous_model_whole(trained, monkeypatch, step):
    """The build, its pairs, its word vectors and its vocabulary go live in one transaction: a
    failure at any step of the switch leaves the model bit for bit as it was."""
    before = model_rows(trained)
    assert before[3], "the model has word vectors to keep"
    monkeypatch.setattr(PairStore, step, fail)
    engine = await DBSLMEngine.open(trained)
    try:
        with pytest.raises(RuntimeError):
            await engine.train_dialog([("where do herons nest", "in tall reeds by the water")])
    finally:
        await engine.close()
    assert model_rows(trained) == before


def test_a_failure_in_the_switch_of_dbslm_train_changes_nothing(cli, trained, tmp_path, monkeypatch):
    before = model_rows(trained)
    monkeypatch.setattr(PairStore, "write_word_vectors", fail)
    more = make(tmp_path, "more.ndjson", '{"prompt": "where do herons nest", "response": "in tall reeds"}\n')
    assert cli("train", more, "--db", trained).code != 0
    assert model_rows(trained) == before


async def test_a_failure_while_forgetting_what_someone_taught_changes_nothing(trained, monkeypatch):
    engine = await DBSLMEngine.open(trained)
    try:
        await engine.train_dialog([("where do herons nest", "in tall reeds by the water")], user_id="discord:9")
        before = model_rows(trained)
        monkeypatch.setattr(PairStore, "write_word_vectors", fail)
        with pytest.raises(RuntimeError):
            await engine.forget_user("discord:9")
    finally:
        await engine.close()
    assert model_rows(trained) == before


async def test_forgetting_someone_subtracts_the_pairs_they_taught(db):
    """The pairs a person taught (an approved correction, an uploaded dialog) are untrained when
    they are forgotten: the model is the one trained without them, n-grams, pairs and word
    vectors alike, and no table keeps a word only they used."""
    models = {}
    for name, taught in (("forgot", True), ("alone", False)):
        engine = await DBSLMEngine.open(db, name)
        try:
            await engine.train_dialog(FIRST)
            if taught:
                await engine.train_dialog(
                    [("what do herons eat", "zanderfish and frogs")], source="correction", user_id="discord:7"
                )
                await engine.train_dialog(FIRST[:2], source="upload:faq.ndjson", user_id="discord:7")
            await engine.train_dialog([("hello there", "hi, good to see you")])
            if taught:
                removed = await engine.forget_user("discord:7", only_this_model=True)
                assert removed["taught_pairs"] == 3
            models[name] = (
                await ngrams_by_text(engine.store, name),
                [(p, r) for _, p, r, _ in await engine.pairs.pair_texts(await engine.model_id(), 100)],
                await engine.pairs.word_vectors(await engine.model_id()),
            )
        finally:
            await engine.close()
    assert_same_model(models["forgot"][0], models["alone"][0])
    assert models["forgot"][1:] == models["alone"][1:] and models["alone"][2]
    texts = [t for (t,) in table_rows(db, "SELECT text FROM vocab")] + [
        t for row in table_rows(db, "SELECT prompt, response FROM pairs") for t in row
    ]
    assert not [t for t in texts if "zanderfish" in t]


async def fail(*args, **kwargs) -> None:
    raise RuntimeError("the disk filled up")


async def test_a_long_token_trains_alike_on_both_backends(db):
    engine = await DBSLMEngine.open(db)
    try:
        await engine.train_dialog([("send the hash", "x" * 600 + " is the hash")])
    finally:
        await engine.close()
    lengths = sorted(len(t) for (t,) in table_rows(db, "SELECT text FROM vocab WHERE text LIKE 'xxx%'"))
    assert lengths == [600 - 2 * MAX_TOKEN_CHARS, MAX_TOKEN_CHARS]  # the pieces, one of them twice


async def test_chat_text_is_repaired_and_an_over_long_message_is_logged_bounded(db):
    engine = await DBSLMEngine.open(db)
    try:
        await engine.train_dialog([("hello", "hi there")])
        conversation = await engine.start_conversation("ann")
        await engine.respond(conversation, "hello \ud800 friend")
        long = await engine.respond(conversation, "word " * 200_000)
        assert "too long" in long.text
        await engine.respond(conversation, "hello")
        logged = [m.text for m in await engine.history(conversation, 10) if m.role == "user"]
    finally:
        await engine.close()
    assert logged[0] == "hello \ufffd friend"
    assert len(logged[1]) < MAX_INPUT_CHARS + 60 and logged[1].endswith("more characters not kept]")


async def test_a_message_is_logged_with_its_answer_and_kept_when_answering_fails(db, monkeypatch):
    engine = await DBSLMEngine.open(db)
    try:
        await engine.train_dialog([("hello", "hi there")])
        conversation = await engine.start_conversation("ann")
        reply = await engine.respond(conversation, "hello", seed=1)

        async def broken(*args: object) -> None:
            raise DbslmError("the model went away")

        monkeypatch.setattr(Replier, "answer", broken)
        with pytest.raises(DbslmError, match="went away"):
            await engine.respond(conversation, "hello again", seed=1)
        logged = [(m.role, m.text) for m in await engine.history(conversation, 10)]
    finally:
        await engine.close()
    assert logged == [("user", "hello"), ("bot", reply.text), ("user", "hello again")]


async def test_a_channel_message_is_kept_when_the_model_cannot_be_read(db, monkeypatch):
    """In a channel the model's build is read while the conversation is: its failure still
    keeps the message."""
    engine = await DBSLMEngine.open(db)
    try:
        await engine.train_dialog([("hello", "hi there")])
        reply = await engine.respond_in_channel("t:w:c", "hello", "ann")

        async def broken(*args: object) -> None:
            raise DbslmError("the model went away")

        monkeypatch.setattr(Replier, "load", broken)
        with pytest.raises(DbslmError, match="went away"):
            await engine.respond_in_channel("t:w:c", "hello again", "bob")
        conversation = await engine.conversation_for_channel("t:w:c", "ann")
        logged = [(m.role, m.user_id, m.text) for m in await engine.history(conversation, 10)]
    finally:
        await engine.close()
    assert logged == [("user", "ann", "hello"), ("bot", "dbslm", reply.text), ("user", "bob", "hello again")]


def test_interrupted_trainings_are_cleaned_at_the_next_start_and_reported(cli, trained, tmp_path, caplog):
    """What a killed training leaves (its build row, half its n-gram rows) is removed when the
    next command opens the database, and the removal is reported."""
    active = table_rows(trained, "SELECT active_build FROM models WHERE name = 'base'")[0][0]
    execute(
        trained,
        "INSERT INTO builds (model_id, status, source, ngram_order, sentences, tokens, created_at) "
        "SELECT id, 'building', 'text', 3, 1, 1, 0 FROM models WHERE name = 'base'",
    )
    stale = max(b for (b,) in table_rows(trained, "SELECT id FROM builds"))
    execute(
        trained,
        "INSERT INTO ngrams (build, n, ctx, word, count, logp, backoff, q) "
        f"SELECT {stale}, n, ctx, word, count, logp, backoff, q FROM ngrams WHERE build = {active}",
    )
    with caplog.at_level(logging.WARNING):
        assert cli("eval", make(tmp_path, "t.txt", "hello there\n"), "--db", trained).code == 0
    assert any("interrupted training" in r.getMessage() and "n-gram rows" in r.getMessage() for r in caplog.records)
    assert table_rows(trained, "SELECT COUNT(*) FROM ngrams WHERE build = ?", (stale,)) == [(0,)]
    assert table_rows(trained, "SELECT id, status FROM builds") == [(active, "active")]


async def test_console_train_refuses_a_path_that_is_not_a_readable_file(dialog_engine, tmp_path):
    lines: list[str] = []
    console = ConsoleAdapter(BotCore(dialog_engine, SETTINGS), write=lines.append)
    build = (await dialog_engine.store.models.model("base")).active_build
    await console.handle_line("/train /no/such/file.txt")
    await console.handle_line(f"/train {tmp_path}")
    assert len(lines) == 2 and all(line.startswith("bot> /train: ") for line in lines)
    assert "No such file" in lines[0] and "folder" in lines[1]
    assert (await dialog_engine.store.models.model("base")).active_build == build  # nothing was trained


async def test_forgetting_a_person_leaves_no_copy_of_their_words(db):
    """After /forget, no table holds a word only the forgotten person used, and on SQLite no
    byte of the database's files does either (secure_delete, merged full-text indexes, the
    write-ahead log folded in)."""
    from dbslm.store.schema import TABLES

    engine = await DBSLMEngine.open(db)
    core = BotCore(engine, SETTINGS)

    async def say(user: str, text: str, key: str, **flags) -> None:
        async def send(reply: str, *, private: bool = False) -> None:
            pass

        await core.handle(Message("discord", "g", "c", user, text, message_id=key, **flags), send)

    try:
        await engine.train_dialog([("hello", "hi there"), ("who keeps the boats", "the harbour master")])
        await say("boss", "/listen on", "0", is_admin=True)
        await say("ann", "who keeps the boats", "1")
        await say("mallory", "my zanzibarquux keeps the boats", "2")  # answers ann: a pair
        await say("ann", "that sounds odd to me", "3")  # answers mallory: learned again on its own
        await say("mallory", "zanzibarquux says hello", "4", mentions_bot=True)  # logged in a conversation
        await core.listener.close()
        await say("mallory", "/forget", "5", mentions_bot=True)
        await say("mallory", "/forget confirm", "6", mentions_bot=True)
        await core.listener.close()
    finally:
        await engine.close()
    texts = [
        (t.name, c) for t in TABLES for c, kind in t.columns if kind.rstrip("?") in ("text", "name", "ref", "token")
    ]
    found = [
        (table, column)
        for table, column in texts
        if table_rows(db, f"SELECT COUNT(*) FROM {table} WHERE {column} LIKE ?", ("%zanzibarquux%",)) != [(0,)]
    ]
    assert found == []
    if is_sqlite(db):
        files = list(Path(db).parent.glob(Path(db).name + "*"))
        assert files and all(b"zanzibarquux" not in path.read_bytes() for path in files)
