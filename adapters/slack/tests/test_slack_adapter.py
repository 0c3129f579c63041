"""The real slack-bolt app in HTTP mode, unchanged, over loopback: signed requests in, Web API calls out."""

from __future__ import annotations

import asyncio
import json
import os
from urllib.parse import urlencode

import pytest

from adapters.slack import serve
from adapters.slack.tests.fake_slack import (
    ADMIN,
    APP_TOKEN,
    BOT_TOKEN,
    FakeSlack,
    command_body,
    event_body,
    fresh_ts,
    wrapped,
)
from adapters.slack.tests.harness import SECRET, listening, post
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.helpers import run_bot_process, split_pairs

SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
REFUSED = "was refused by Slack (invalid_auth)"


@pytest.fixture
async def slack(tmp_path, bot_port):
    engine = await DBSLMEngine.open(str(tmp_path / "slack.sqlite3"))
    await engine.train_dialog(split_pairs()[0])
    api = FakeSlack()
    port = bot_port
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": await api.start(),
        "BOT_SLACK_PORT": str(port),
    }
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(BotCore(engine, SETTINGS), stop, env))
    await asyncio.wait_for(listening(port), 5)
    yield api, f"http://127.0.0.1:{port}"
    stop.set()
    await asyncio.wait_for(serving, 10)
    assert not api.connected.is_set()  # HTTP mode: no websocket
    await api.close()
    await engine.close()


def event(kind: str, text: str, **fields) -> str:
    return json.dumps(event_body(kind, text, **fields))


def command(name: str, text: str, **fields) -> str:
    return urlencode(command_body(name, text, **fields))


async def test_mentions_and_dms_are_answered_bots_are_not(slack):
    api, url = slack
    assert await post(url, event("app_mention", "<@UBOT> Hello"), JSON) == 200
    posted = await api.posted.wait_for(1)
    assert posted[0]["channel"] == "C1" and posted[0]["text"]
    assert await post(url, event("message", "How are you?", channel="D1", channel_type="im"), JSON) == 200
    assert (await api.posted.wait_for(2))[1]["channel"] == "D1"
    await post(url, event("message", "I am a bot", channel="D1", channel_type="im", bot_id="B9"), JSON)
    await post(url, event("message", "hi", channel="C1", channel_type="channel"), JSON)
    await post(url, event("app_mention", "<@UBOT> What is AI?", channel="C2"), JSON)
    posted = await api.posted.wait_for(3)
    assert len(posted) == 3 and posted[2]["channel"] == "C2"


async def test_bad_or_stale_signatures_are_rejected(slack):
    api, url = slack
    assert await post(url, event("app_mention", "<@UBOT> Hello"), JSON, secret="wrong") == 401
    assert await post(url, event("app_mention", "<@UBOT> Hello"), JSON, age=600) == 401
    assert api.posted == []


async def test_slash_commands_correct_and_train(slack):
    api, url = slack
    await post(url, event("app_mention", "<@UBOT> What is AI?"), JSON)
    await api.posted.wait_for(1)
    assert await post(url, command("/correct", "AI is a talking database."), FORM) == 200
    assert "talking database" in (await api.posted.wait_for(2))[1]["text"]
    await post(url, event("app_mention", "<@UBOT> What is AI?"), JSON)
    assert (await api.posted.wait_for(3))[2]["text"] == "AI is a talking database."
    await post(url, event("app_mention", "<@UBOT> What is AI?", channel="C9"), JSON)
    assert (await api.posted.wait_for(4))[3]["text"] != "AI is a talking database."
    await post(url, command("/train", "zebras sing at dawn", user="U1"), FORM)
    refused = (await api.posted.wait_for(5))[4]
    assert refused["method"] == "chat.postEphemeral" and refused["user"] == "U1"
    assert refused["text"] == "Only admins can use /train."
    await post(url, command("/train", "zebras sing at dawn", user=ADMIN), FORM)
    texts = [p["text"] for p in await api.posted.wait_for(7)]
    assert any(t.startswith("Trained on message.txt") for t in texts)


async def test_a_replayed_slash_command_runs_once(slack):
    """A signed request replayed within Slack's five minutes passes the signature check: the
    same invocation (its trigger id) trains once."""
    api, url = slack
    body = command("/train", "replayed zebras sing at dawn", user=ADMIN)
    for _ in range(3):
        assert await post(url, body, FORM) == 200
    await api.posted.wait_for(2)  # "Training ..." and "Trained on ..."
    await post(url, command("/stats", "", user=ADMIN), FORM)  # a new invocation is answered, after the replays
    texts = [p["text"] for p in await api.posted.wait_for(3)]
    assert sum(t.startswith("Trained on message.txt") for t in texts) == 1 and texts[-1].startswith("Model")
    assert len(api.posted) == 3


async def test_an_uninstall_is_logged_once(slack, caplog):
    """The one workspace's token stops working: the operator is told (a user token revoked is no news)."""
    api, url = slack
    revoked = wrapped({"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}, "event_ts": fresh_ts()}, "T1")
    assert await post(url, json.dumps(revoked), JSON) == 200
    assert await post(url, json.dumps(wrapped({"type": "app_uninstalled", "event_ts": fresh_ts()}, "T1")), JSON) == 200

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith("adapters.slack")]

    for _ in range(50):
        if said():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert said() == ["Slack: the app's bot token for workspace T1 was revoked"] and api.posted == []


@pytest.mark.parametrize(
    "env, named",
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)"),
        ({"SLACK_BOT_TOKEN": "xoxb-s3cr3t", "SLACK_SIGNING_SECRET": SECRET}, f"SLACK_BOT_TOKEN {REFUSED}"),
        ({"SLACK_BOT_TOKEN": "xoxb-s3cr3t", "SLACK_APP_TOKEN": APP_TOKEN}, f"SLACK_BOT_TOKEN {REFUSED}"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-s3cr3t"}, f"SLACK_APP_TOKEN {REFUSED}"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": BOT_TOKEN}, f"SLACK_APP_TOKEN {REFUSED}"),
    ],
)
async def test_serve_names_a_missing_or_refused_token_without_printing_it(tmp_path, capsys, env, named):
    api = FakeSlack()
    engine = await DBSLMEngine.open(str(tmp_path / "refused.sqlite3"))
    try:
        with pytest.raises(BotError) as refused:
            await asyncio.wait_for(
                serve(BotCore(engine, SETTINGS), asyncio.Event(), {**env, "SLACK_API_URL": await api.start()}), 5
            )
    finally:
        await api.close()
        await engine.close()
    assert named in str(refused.value)
    shown = str(refused.value) + "".join(capsys.readouterr())
    assert "s3cr3t" not in shown and BOT_TOKEN not in shown and not api.connected.is_set()


@pytest.mark.parametrize(
    "tokens, named",
    [
        ({"SLACK_BOT_TOKEN": "xoxb-s3cr3t", "SLACK_SIGNING_SECRET": "sh-s3cr3t"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-s3cr3t"}, "SLACK_APP_TOKEN"),
    ],
)
async def test_the_bot_process_names_a_refused_token_without_printing_it(tmp_path, tokens, named):
    api = FakeSlack()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))}
    env.update(tokens, DBSLM_SQLITE_PATH=str(tmp_path / "b.sqlite3"), SLACK_API_URL=await api.start())
    code, text = await run_bot_process(env)
    await api.close()
    assert code == 1 and f"{named} {REFUSED}" in text
    assert "s3cr3t" not in text and "Traceback" not in text
