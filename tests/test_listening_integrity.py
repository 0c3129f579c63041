"""Integrity of listening under faults and hostile text (docs/integrity.md): a message that
cannot be learned is set aside with its reason and the others are learned; a batch whose switch
fails stays queued and leaves the model as it was; text is repaired before it is queued."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.core import BotCore
from bot.events import Message
from dbslm.domain import ChannelMessage, Status
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.store.queue import QueueStore
from tests.helpers import (
    SETTINGS,
    execute,
    table_rows,
)


async def test_a_surrogate_in_a_listened_channel_is_learned_repaired(dialog_engine):
    core = BotCore(dialog_engine, replace(SETTINGS, listen_batch=1))
    sent: list[str] = []

    async def send(text: str, *, private: bool = False) -> None:
        sent.append(text)

    await core.handle(Message("discord", "g", "c", "boss", "/listen on", is_admin=True, message_id="1"), send)
    await core.handle(Message("discord", "g", "c", "ann", "odd \ud83d text here", message_id="2"), send)
    await core.listener.close()
    engine = await core.communities.engine_named("discord:g")
    learned = await engine.learning.messages(status=Status.LEARNED)
    assert [m.text for m in learned] == ["odd \ufffd text here"]


@pytest.mark.parametrize("batch", [1, 5])
async def test_a_message_that_cannot_be_learned_is_set_aside_and_the_others_are_learned(db, monkeypatch, batch):
    """A poison message (its tokenizing fails: a fault injected in the tokenizer) in a listened
    channel: it is set aside with its reason, every other message is learned, /stats counts it."""
    from dbslm.text.tokenize import RegexTokenizer

    pieces = RegexTokenizer.pieces

    def poisoned(line: str) -> list[str] | None:
        if "nightshade" in line:
            raise ValueError("this text breaks the tokenizer")
        return pieces(line)

    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello", "hi there")])
    core = BotCore(engine, replace(SETTINGS, listen_batch=batch, listen_seconds=0.05))
    said: list[str] = []

    async def send(text: str, *, private: bool = False) -> None:
        said.append(text)

    try:
        await core.handle(Message("discord", "g", "c", "boss", "/listen on", is_admin=True, message_id="0"), send)
        monkeypatch.setattr(RegexTokenizer, "pieces", staticmethod(poisoned))
        texts = [
            "the first fine message",
            "a second fine one",
            "deadly nightshade grows here",
            "a message after it",
            "and the last one",
        ]
        for i, text in enumerate(texts, 1):
            await core.handle(Message("discord", "g", "c", f"u{i}", text, message_id=str(i)), send)
        await core.listener.close()
        monkeypatch.undo()
        community = await core.communities.engine_named("discord:g")
        learned = [m.text for m in await community.learning.messages(status=Status.LEARNED)]
        await core.handle(
            Message("discord", "g", "c", "boss", "/stats", is_admin=True, message_id="9", mentions_bot=True), send
        )
    finally:
        await engine.close()
    assert sorted(learned) == sorted(t for t in texts if "nightshade" not in t)
    assert table_rows(db, "SELECT message_key, reason FROM set_aside") == [
        ("discord:g:c:3", "ValueError: this text breaks the tokenizer")
    ]
    assert "1 messages set aside as unlearnable" in said[-1]


async def test_a_failure_in_a_listened_batch_switch_leaves_it_queued_and_the_model_as_it_was(db, monkeypatch):
    """The queue's bookkeeping switches with the build: a database failure there (a full disk)
    leaves the community model as it was and every message queued, none set aside."""
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello", "hi there")])
    core = BotCore(engine, replace(SETTINGS, listen_batch=100, listen_seconds=3600))
    try:
        await core.handle(Message("discord", "g", "c", "boss", "/listen on", is_admin=True, message_id="0"), drop)
        for i, text in enumerate(["herons nest in reeds", "they eat small fish", "and frogs too"], 1):
            await core.handle(Message("discord", "g", "c", f"u{i}", text, message_id=str(i)), drop)
        community = await core.communities.engine_named("discord:g")
        model_id = await community.model_id()
        before = community_rows(db, model_id)

        async def full(*args, **kwargs) -> None:
            raise DbslmError("the database or disk is full")

        monkeypatch.setattr(QueueStore, "mark_learned", full)
        with pytest.raises(DbslmError):
            await community.learning.learn_queued()
        after = community_rows(db, model_id)
        monkeypatch.undo()
        assert after == before and table_rows(db, "SELECT COUNT(*) FROM set_aside") == [(0,)]
        assert (await community.learning.learn_queued()).sentences == 3
    finally:
        await core.close()
        await engine.close()


def community_rows(db: str, model_id: int) -> list[list[tuple]]:
    """A community model's queue, pairs and build."""
    return [
        table_rows(db, f"SELECT {columns} FROM {table} WHERE {key} = ?", (model_id,))
        for table, columns, key in (
            ("learned", "message_key, status, seq", "model_id"),
            ("pairs", "prompt, response", "model_id"),
            ("models", "active_build", "id"),
            ("queues", "learned, queued", "model_id"),
        )
    ]


async def drop(text: str, *, private: bool = False) -> None:
    """Where the bot's answers go when a test does not read them."""


async def test_a_batch_is_learned_even_when_its_new_version_cannot_be_loaded_yet(db, caplog):
    """The replier loads a batch's version right after its switch; a database that fails that
    load (here: a table dropped by hand) leaves the batch learned and says so in the log."""
    engine = await DBSLMEngine.open(db)
    try:
        await engine.train_dialog([("hello", "hi there"), ("how are you", "fine thanks")])
        await engine.replier.load()
        await engine.learning.queue([ChannelMessage("discord:g:c:1", "ann", "discord:g:c", "kayaks float well")])
        execute(db, "DROP TABLE decode_profiles")
        with caplog.at_level(logging.WARNING):
            report = await engine.learning.learn_queued()
        assert report is not None and report.sentences == 1
        assert [m.text for m in await engine.learning.messages(status=Status.LEARNED)] == ["kayaks float well"]
        assert any("could not load the new version of base yet" in r.getMessage() for r in caplog.records)
    finally:
        await engine.close()
