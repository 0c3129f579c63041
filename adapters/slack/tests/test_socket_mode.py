"""The real slack-bolt app in Socket Mode over loopback: envelopes in, acks and Web API calls out."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from adapters.slack.tests.fake_slack import ADMIN, APP_TOKEN, BOT_TOKEN, FakeSlack, command_body, event_body, payload
from adapters.slack.tests.harness import socket_bot
from bot.settings import BotSettings

SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)
FACTS = b'{"prompt": "favourite colour?", "response": "Teal, always."}\n'


@pytest.fixture
async def slack(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # everything the libraries log, to look for tokens in
    async with socket_bot(str(tmp_path / "socket.sqlite3"), SETTINGS) as (api, _):
        yield api


async def mention(api: FakeSlack, text: str, channel: str = "C1", user: str = "U1", **extra) -> str:
    return await api.push("events_api", event_body("app_mention", f"<@UBOT> {text}", user, channel, **extra))


async def dm(api: FakeSlack, text: str, user: str = "U1", **extra) -> str:
    return await api.push("events_api", event_body("message", text, user, "D1", channel_type="im", **extra))


async def test_mentions_and_dms_are_answered_own_messages_are_not(slack):
    pushed = [await mention(slack, "Hello")]
    assert (await slack.posted.wait_for(1))[0]["channel"] == "C1"
    pushed.append(await dm(slack, "How are you?"))
    assert (await slack.posted.wait_for(2))[1]["channel"] == "D1"
    pushed.append(await dm(slack, "I said so", user="UBOT", bot_id="BBOT"))
    await slack.acks.wait_for(3)
    pushed.append(await mention(slack, "What is AI?", channel="C2"))
    posted = await slack.posted.wait_for(3)
    assert [p["channel"] for p in posted] == ["C1", "D1", "C2"]
    assert all(p["method"] == "chat.postMessage" and p["text"] for p in posted)
    acks = await slack.acks.wait_for(4)
    assert [a["envelope_id"] for a in acks] == pushed and all("payload" not in a for a in acks)


async def test_slash_commands_are_acked_at_once_and_answered_afterwards(slack):
    slack.stall["users.info"] = 1.0  # the work after the ack takes a while
    pushed = await slack.push("slash_commands", command_body("/stats", ""))
    ack = (await slack.acks.wait_for(1, timeout=0.5))[0]
    assert ack["envelope_id"] == pushed and ack["posts_before"] == 0 and "payload" not in ack
    answer = (await slack.posted.wait_for(1, timeout=3))[0]
    assert answer["method"] == "chat.postMessage" and answer["text"].startswith("Model 'slack:T1'")
    slack.stall.clear()
    await slack.push("slash_commands", command_body("/flush", "", user="U1"))
    refused = (await slack.posted.wait_for(2))[1]
    assert (refused["method"], refused["user"], refused["text"]) == (
        "chat.postEphemeral",
        "U1",
        "Only admins can use /flush.",
    )


async def test_correct_changes_the_next_answer_in_that_channel_only(slack):
    await mention(slack, "What is AI?")
    await slack.posted.wait_for(1)
    await slack.push("slash_commands", command_body("/correct", "AI is a talking database."))
    assert "talking database" in (await slack.posted.wait_for(2))[1]["text"]
    await mention(slack, "What is AI?")
    assert (await slack.posted.wait_for(3))[2]["text"] == "AI is a talking database."
    await mention(slack, "What is AI?", channel="C9")
    assert (await slack.posted.wait_for(4))[3]["text"] != "AI is a talking database."


async def test_train_with_an_uploaded_file_needs_an_admin(slack, capsys, caplog):
    facts = slack.upload("facts.ndjson", FACTS)
    await dm(slack, "/train", subtype="file_share", files=[facts])
    refused = (await slack.posted.wait_for(1))[0]
    assert (refused["method"], refused["user"], refused["text"]) == (
        "chat.postEphemeral",
        "U1",
        "Only admins can use /train.",
    )
    assert slack.downloads == []
    await mention(slack, "/train", user=ADMIN, files=[facts])
    texts = [p["text"] for p in await slack.posted.wait_for(3)]
    assert texts[1].startswith("Training on facts.ndjson in the background")
    assert texts[2].startswith("Trained on facts.ndjson: ") and " tokens; " in texts[2]
    assert slack.downloads == [{"file": facts["id"], "authorization": f"Bearer {BOT_TOKEN}"}]
    await mention(slack, "favourite colour?", user=ADMIN)
    assert (await slack.posted.wait_for(4))[3]["text"] == "Teal, always."
    async with aiohttp.ClientSession() as session, session.get(facts["url_private"]) as anonymous:
        assert anonymous.status == 403
    shown = "".join(p["text"] for p in slack.posted) + "".join(capsys.readouterr()) + caplog.text
    assert "Sending a request" in caplog.text  # the Web API client did log at debug level
    assert BOT_TOKEN not in shown and APP_TOKEN not in shown


async def test_bad_and_oversized_uploads_are_reported(slack):
    bad = slack.upload("bad.ndjson", b'{"prompt": "a", "response": "b"}\n{oops\n')
    await dm(slack, "/train", user=ADMIN, subtype="file_share", files=[payload("file_stub", id=bad["id"])])
    texts = [p["text"] for p in await slack.posted.wait_for(2)]
    assert texts[1].startswith("Training failed, nothing changed: bad.ndjson:2: malformed JSON")
    big = {**slack.upload("big.txt", b"words"), "size": 5 * 2**20}
    await dm(slack, "/train", user=ADMIN, subtype="file_share", files=[big])
    refused = (await slack.posted.wait_for(3))[2]
    assert refused["method"] == "chat.postEphemeral"
    assert refused["text"] == "big.txt is larger than the 1 MB limit."
    gone = slack.file("F0", "gone.txt", 5)  # never uploaded
    await dm(slack, "/train", user=ADMIN, subtype="file_share", files=[gone])
    assert (await slack.posted.wait_for(4))[3]["text"] == "Slack refused to send me gone.txt (HTTP 404)."
    assert [d["file"] for d in slack.downloads] == [bad["id"], "F0"]
