"""Communities over the wire, Socket Mode against the fake Slack: two workspaces that never see
each other's words, the listening rules, history backfill, deleted and edited messages, bad input."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from adapters.slack.tests.fake_slack import (
    ADMIN,
    ADMIN2,
    FakeSlack,
    changed_body,
    command_body,
    deleted_body,
    event_body,
    payload,
)
from adapters.slack.tests.harness import socket_bot
from bot.core import BotCore
from dbslm.domain import Status
from tests.helpers import SETTINGS as COMMUNITY_SETTINGS
from tests.helpers import eventually, owners_of, table_rows, vocabulary

SETTINGS = replace(COMMUNITY_SETTINGS, listen_batch=3, listen_seconds=0.2)
T = TypeVar("T")
# how many batches the model took: its builds, and the batches that changed the active one in place
BATCHES = "SELECT m.active_build + b.version FROM models m JOIN builds b ON b.id = m.active_build WHERE m.name = ?"


@pytest.fixture
async def bot(tmp_path, caplog):
    """The fake Slack, the bot core serving it in Socket Mode, and the database file."""
    db = str(tmp_path / "communities.sqlite3")
    async with socket_bot(db, SETTINGS) as (api, core):
        yield api, core, db
    assert "Failed to run listener" not in caplog.text  # no event handler failed


async def say(
    api: FakeSlack, text: str, user: str = "U1", channel: str = "C1", team: str = "T1", **extra: Any
) -> dict[str, Any]:
    """A channel message, as the message.channels subscription delivers it; returns the event."""
    body = event_body("message", text, user, channel, team, channel_type="channel", **extra)
    await api.push("events_api", body)
    return body["event"]


async def mention(
    api: FakeSlack, text: str, user: str = "U1", channel: str = "C1", team: str = "T1", mention_first: bool = False
) -> None:
    """Mention the bot as Slack does: a ``message`` and an ``app_mention`` event of one message."""
    message = event_body("message", f"<@UBOT> {text}", user, channel, team, channel_type="channel")
    app_mention = event_body("app_mention", message["event"]["text"], user, channel, team, ts=message["event"]["ts"])
    for body in (app_mention, message) if mention_first else (message, app_mention):
        await api.push("events_api", body)


async def command(
    api: FakeSlack, name: str, text: str = "", user: str = ADMIN, channel: str = "C1", team: str = "T1", count: int = 1
) -> list[dict[str, Any]]:
    """Run a slash command; the first ``count`` posts that follow."""
    before = len(api.posted)
    await api.push("slash_commands", command_body(name, text, user, channel, team))
    return (await api.posted.wait_for(before + count))[before : before + count]


async def rows(core: BotCore, team: str = "T1", status: str | None = "learned") -> list[str]:
    """The texts of the workspace model's learned (or, with ``status=None``, also queued) messages."""
    engine = await core.communities.engine_named(f"slack:{team}")
    return sorted(m.text for m in await engine.learning.messages(status=status))


def past(count: int) -> list[dict[str, Any]]:
    """A channel's history, newest first: every fifth message a bot's, and one member joining."""

    def message(i: int) -> dict[str, Any]:
        if i == 13:
            return payload("channel_join", user="U3", text="<@U3> has joined the channel", ts=f"{i}.000100")
        if i % 5 == 0:
            return payload("bot_message", bot_id="B9", text=f"old heron note {i}", ts=f"{i}.000100")
        return payload("history_message", user=f"U{i % 4 + 1}", text=f"old heron note {i}", ts=f"{i}.000100")

    return [message(i) for i in range(count, 0, -1)]


def learnable(history: list[dict[str, Any]]) -> list[str]:
    """The texts of a history's messages that may be learned (not bots', not events)."""
    return sorted(m["text"] for m in history if "subtype" not in m)


async def test_two_workspaces_keep_their_words(bot):
    api, core, db = bot
    assert (await command(api, "/listen", "on"))[0]["text"].startswith("I am listening in this channel now")
    for i in range(4):
        await say(api, f"the quokka parade {i} is on the pier", user=f"U{i + 1}")
    trained = await command(api, "/train", "the quokka quokka quokka song", count=2)
    assert trained[1]["text"].startswith("Trained on message.txt")
    await eventually(lambda: rows(core), lambda texts: len(texts) == 4)
    before = len(api.posted)
    for i in range(21):
        await mention(api, f"tell me about quokka {i}", channel="CT2", team="T2", mention_first=i % 2 == 1)
    replies = (await api.posted.wait_for(before + 21))[before:]
    assert all(r["channel"] == "CT2" and r["method"] == "chat.postMessage" for r in replies)
    assert not any("quokka" in r["text"].lower() for r in replies)
    owner = dict(table_rows(db, "SELECT name, id FROM models"))
    assert owners_of(db, "quokka") == {"slack:T1"}
    assert table_rows(db, "SELECT COUNT(*) FROM builds WHERE model_id = ?", (owner["slack:T2"],)) == [(0,)]
    refused = (await command(api, "/listen", "on", channel="CT2", team="T2"))[0]
    assert (refused["method"], refused["user"], refused["text"]) == (
        "chat.postEphemeral",
        ADMIN,
        "Only admins can use /listen.",
    )
    assert (await command(api, "/listen", "on", user=ADMIN2, channel="CT2", team="T2"))[0]["text"].startswith(
        "I am listening"
    )
    await asyncio.sleep(0.2)
    assert len(api.posted) == before + 23  # each mention answered once


async def test_listening_rules_over_the_wire(bot):
    api, core, db = bot
    await command(api, "/listen", "on")
    assert (await command(api, "/optout", user="USHY"))[0]["method"] == "chat.postEphemeral"
    await command(api, "/ban", "add marmalade")
    await say(api, "I am a bot and I talk about kayaks", user="UB9", bot_id="B9")  # an app's bot user
    before = len(api.posted)
    await say(api, "/history 3")  # a command typed in the channel: answered, not learned
    assert (await api.posted.wait_for(before + 1))[before]["method"] == "chat.postMessage"
    await say(api, "my secret kayak diary", user="USHY")
    await say(api, "marmalade on the kayak")
    await say(api, "kayaks float, <@U7> says", user="U2")  # mentions are never learned: no reply pings
    assert await eventually(lambda: rows(core), bool) == ["kayaks float, says"]
    assert await rows(core, status=None) == ["kayaks float, says"]  # nothing else even queued
    before = len(api.posted)
    await mention(api, "what is AI?")
    await mention(api, "what is a kayak?", channel="C2", mention_first=True)  # C2 is not listened
    assert await eventually(lambda: rows(core), lambda texts: len(texts) == 2) == [
        "kayaks float, says",
        "what is AI?",
    ]  # without the bot's mention
    await mention(api, "what is a heron?", channel="C2")  # answered after anything still queued in C2
    replies = (await api.posted.wait_for(before + 3))[before:]
    await asyncio.sleep(0.3)
    assert len(api.posted) == before + 3 and all(r["method"] == "chat.postMessage" and r["text"] for r in replies)
    # each mention handled once (C1's and C2's are handled concurrently: their order is not promised)
    assert sorted(
        table_rows(db, "SELECT text FROM messages WHERE role = ? AND text LIKE ?", ("user", "what is %"))
    ) == [
        ("what is AI?",),
        ("what is a heron?",),
        ("what is a kayak?",),
    ]


async def test_history_backfill_reads_pages_and_waits_out_a_429(bot):
    api, core, _ = bot
    api.history["C1"], api.page_size = past(25), 10
    api.rate_limited.add("conversations.history")
    out = await command(api, "/train", "history", count=2)
    assert out[0]["text"].startswith("Reading up to 10,000 past messages of this channel")
    assert out[1]["text"].startswith("History: learned 19 new of 25 messages read in ")
    calls = [c for c in api.calls if c["method"] == "conversations.history"]
    assert [(c["status"], c.get("cursor"), c["limit"]) for c in calls] == [
        (429, None, "200"),
        (200, None, "200"),
        (200, "10", "200"),
        (200, "20", "200"),
    ]
    assert await rows(core) == learnable(api.history["C1"])


async def test_an_interrupted_backfill_resumes_and_learns_nothing_twice(bot):
    api, core, _ = bot
    api.history["C2"], api.page_size, api.readable_pages["C2"] = past(25), 10, 1
    out = (await command(api, "/train", "history", channel="C2", count=2))[1]["text"]
    assert out.startswith(
        "I could not read this channel's history: I am not a member of this channel; invite me "
        "to it first. History: learned 8 new of 10 messages read"
    )
    del api.readable_pages["C2"]
    assert (
        "learned 11 new of 15 messages read"
        in (await command(api, "/train", "history", channel="C2", count=2))[1]["text"]
    )
    assert (
        "learned 0 new of 25 messages read"
        in (await command(api, "/train", "history", channel="C2", count=2))[1]["text"]
    )
    assert await rows(core) == learnable(api.history["C2"])
    api.outside.add("C3")  # the bot is no member of C3: it answers through the command's response_url
    out = await command(api, "/train", "history 50", channel="C3", count=2)
    assert [(o["method"], o["response_type"]) for o in out] == [("response_url", "in_channel")] * 2
    assert out[1]["text"].startswith(
        "I could not read this channel's history: I am not a member of this channel; "
        "invite me to it first. History: learned 0 new of 0 messages read"
    )
    assert await rows(core, status=None) == learnable(api.history["C2"])
    engine = await core.communities.engine_named("slack:T1")
    assert (await core.communities.channels.channel(await engine.model_id(), "slack:T1:C3")).backfill_cursor is None


async def test_a_deleted_message_is_unlearned_and_an_edit_relearned(bot):
    api, core, db = bot
    await command(api, "/listen", "on")
    kept = [(await say(api, f"kept line number {i}"))["text"] for i in range(3)]
    typo = await say(api, "the walrus is pink", user="U2")
    await eventually(lambda: rows(core), lambda texts: len(texts) == 4)
    words = vocabulary(db, "slack:T1")
    assert (words.get("pink"), words.get("grey", 0)) == (1, 0)
    await api.push("events_api", changed_body(typo, "the walrus is grey"))
    assert await eventually(lambda: rows(core), lambda texts: "the walrus is grey" in texts) == sorted(
        kept + ["the walrus is grey"]
    )
    words = vocabulary(db, "slack:T1")
    assert (words.get("pink", 0), words.get("grey")) == (0, 1)
    batches = table_rows(db, BATCHES, ("slack:T1",))
    typo["text"] = "the walrus is grey"
    await api.push("events_api", changed_body(typo, typo["text"]))  # a link preview: the same text
    await api.push("events_api", deleted_body(typo))
    await eventually(lambda: rows(core, status=None), lambda texts: texts == sorted(kept))
    await asyncio.sleep(0.3)
    assert table_rows(db, BATCHES, ("slack:T1",)) == [(batches[0][0] + 1,)]  # the deletion's batch, no relearning
    words = vocabulary(db, "slack:T1")
    assert (words.get("walrus", 0), words.get("grey", 0), words["kept"]) == (0, 0, 3)


async def test_bad_input_gets_a_clear_private_reply_and_changes_nothing(bot):
    api, core, _ = bot
    await command(api, "/listen", "on")
    await say(api, "nine likes herons", user="U9")
    await eventually(lambda: rows(core), bool)
    for name, text, user, reply in (
        ("/chance", "150", ADMIN, "Usage: /chance <percent>, a number from 0 to 100."),
        ("/chance", "abc", ADMIN, "Usage: /chance <percent>, a number from 0 to 100."),
        ("/forget", "<@U9|nine>", "U1", "Only admins can make me forget someone else."),
    ):
        out = (await command(api, name, text, user))[0]
        assert (out["method"], out["user"], out["text"]) == ("chat.postEphemeral", user, reply), (name, text)
    engine = await core.communities.engine_named("slack:T1")
    state = await core.communities.channels.channel(await engine.model_id(), "slack:T1:C1")
    assert (state.listening, state.chance) == (True, 0.0)
    assert await rows(core) == ["nine likes herons"]
    done = (await command(api, "/forget", "<@U9|nine>"))[0]["text"]  # an admin may, by the escaped mention
    assert done.startswith("Done: for this community I deleted")
    assert done.endswith("of <@U9>, and I will not learn from them here unless they send /optin.")
    assert await rows(core, status=None) == []


async def test_reply_chance_over_the_wire(bot):
    api, core, _ = bot
    for i in range(30):  # 0% by default: unprompted messages get no reply
        await say(api, f"just chatting {i}")
    await api.acks.wait_for(30)
    assert not [p for p in api.posted if p["channel"] == "C1"]
    await command(api, "/chance", "100")
    for i in range(10):
        await say(api, f"now you answer {i}", channel="C1")
    await api.posted.wait_for(1 + 10)
    await asyncio.sleep(0.3)  # nothing more comes: none of the first 30 was answered late
    assert len([p for p in api.posted if p["channel"] == "C1" and p["method"] == "chat.postMessage"]) == 1 + 10


async def test_a_thread_reply_is_learned_after_the_message_it_answers(bot):
    api, core, _ = bot
    await command(api, "/listen", "on")
    parent = await say(api, "who has the key to the boathouse?", user="U1")
    await eventually(lambda: rows(core, status=None), lambda texts: len(texts) == 1)
    answer = await say(api, "the key hangs by the door", user="U2", thread_ts=parent["ts"])
    await say(api, "found it, thanks", user="U1", thread_ts=parent["ts"])

    async def pairs() -> list[tuple[str | None, str]]:
        engine = await core.communities.engine_named("slack:T1")
        return sorted((m.pair for m in await engine.learning.messages(status=Status.LEARNED)), key=str)

    expected = sorted(
        [(None, parent["text"]), (parent["text"], answer["text"]), (answer["text"], "found it, thanks")], key=str
    )
    assert await eventually(pairs, lambda found: found == expected)
