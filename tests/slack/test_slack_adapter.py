"""The real slack-bolt app, unchanged, over loopback: signed requests in, Web API calls out."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import SlackAdapter
from bot.core import BotCore
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.slack.fake_slack import ADMIN, FakeSlackAPI
from tests.test_engine import split_pairs

SECRET = "fake-signing-secret"
SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def slack(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "slack.sqlite3"))
    await engine.train_dialog(split_pairs()[0])
    api = FakeSlackAPI()
    api_runner, api_url = await serve(api.app)
    adapter = SlackAdapter(BotCore(engine, SETTINGS), "xoxb-fake-token", SECRET, api_url=api_url + "/api/")
    bot_runner, bot_url = await serve(adapter.web_app())
    yield api, bot_url
    await bot_runner.cleanup()
    await api_runner.cleanup()
    await engine.close()


async def post(url: str, body: str, content_type: str, secret: str = SECRET, age: int = 0) -> int:
    timestamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}",
               "Content-Type": content_type}
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/slack/events", data=body.encode(), headers=headers) as response:
            return response.status


def event(kind: str, text: str, user: str = "U1", channel: str = "C1", **extra) -> str:
    inner = {"type": kind, "user": user, "text": text, "ts": "1.1", "channel": channel, "event_ts": "1.1", **extra}
    return json.dumps({"token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                       "event_id": f"Ev{time.monotonic_ns()}", "event_time": 1, "event": inner})


def command(name: str, text: str, user: str = "U1", channel: str = "C1") -> str:
    return urlencode({"token": "t", "team_id": "T1", "channel_id": channel, "user_id": user, "command": name,
                      "text": text, "response_url": "http://127.0.0.1:9/unused", "trigger_id": "1"})


async def test_mentions_and_dms_are_answered_bots_are_not(slack):
    api, url = slack
    assert await post(url, event("app_mention", "<@UBOT> Hello"), "application/json") == 200
    posted = await api.wait_for_posts(1)
    assert posted[0]["channel"] == "C1" and posted[0]["text"]
    assert await post(url, event("message", "How are you?", channel="D1", channel_type="im"), "application/json") == 200
    assert (await api.wait_for_posts(2))[1]["channel"] == "D1"
    await post(url, event("message", "I am a bot", channel="D1", channel_type="im", bot_id="B9"), "application/json")
    await post(url, event("message", "hi", channel="C1", channel_type="channel"), "application/json")
    await post(url, event("app_mention", "<@UBOT> What is AI?", channel="C2"), "application/json")
    posted = await api.wait_for_posts(3)
    assert len(posted) == 3 and posted[2]["channel"] == "C2"


async def test_bad_or_stale_signatures_are_rejected(slack):
    api, url = slack
    assert await post(url, event("app_mention", "<@UBOT> Hello"), "application/json", secret="wrong") == 401
    assert await post(url, event("app_mention", "<@UBOT> Hello"), "application/json", age=600) == 401
    assert api.posted == []


async def test_slash_commands_correct_and_train(slack):
    api, url = slack
    await post(url, event("app_mention", "<@UBOT> What is AI?"), "application/json")
    await api.wait_for_posts(1)
    form = "application/x-www-form-urlencoded"
    assert await post(url, command("/correct", "AI is a talking database."), form) == 200
    assert "talking database" in (await api.wait_for_posts(2))[1]["text"]
    await post(url, event("app_mention", "<@UBOT> What is AI?"), "application/json")
    assert (await api.wait_for_posts(3))[2]["text"] == "AI is a talking database."
    await post(url, event("app_mention", "<@UBOT> What is AI?", channel="C9"), "application/json")
    assert (await api.wait_for_posts(4))[3]["text"] != "AI is a talking database."
    await post(url, command("/train", "zebras sing at dawn", user="U1"), form)
    assert (await api.wait_for_posts(5))[4]["text"] == "Only admins can use /train."
    await post(url, command("/train", "zebras sing at dawn", user=ADMIN), form)
    texts = [p["text"] for p in await api.wait_for_posts(7)]
    assert any(t.startswith("Trained on message.txt") for t in texts)


async def test_python_m_bot_names_a_refused_token_without_printing_it(tmp_path):
    import asyncio
    import os
    import sys

    refusing = web.Application()

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "invalid_auth"})

    refusing.router.add_route("*", "/api/{method}", refuse)
    runner, url = await serve(refusing)
    env = {**os.environ, "DBSLM_SQLITE_PATH": str(tmp_path / "b.sqlite3"), "SLACK_BOT_TOKEN": "xoxb-s3cr3t",
           "SLACK_SIGNING_SECRET": "sh-s3cr3t", "SLACK_API_URL": url + "/api/"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", env=env, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    await runner.cleanup()
    text = (out + err).decode()
    assert proc.returncode == 1 and "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)" in text
    assert "s3cr3t" not in text and "Traceback" not in text
