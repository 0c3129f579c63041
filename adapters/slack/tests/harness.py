"""The bot against the fake Slack, on a fresh database: Socket Mode for the Socket Mode tests, and
Slack's signed requests for the HTTP mode ones."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import aiohttp

from adapters.slack import serve
from adapters.slack.tests.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from bot.core import BotCore
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.helpers import split_pairs

SECRET = "fake-signing-secret"  # the app's signing secret in HTTP mode


@asynccontextmanager
async def served(
    db: str, settings: BotSettings, env: dict[str, str], ready: Callable[[FakeSlack], Awaitable[object]]
) -> AsyncIterator[tuple[FakeSlack, BotCore]]:
    """Serve a bot core (its base model trained on the starter dialogs, in the SQLite file ``db``)
    to a fake Slack with the settings ``env`` (the fake's API URL added), once ``ready`` says so;
    stops it, the fake and the database afterwards."""
    engine = await DBSLMEngine.open(db)
    api = FakeSlack()
    try:
        await engine.train_dialog(split_pairs()[0])
        core = BotCore(engine, settings)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(core, stop, {**env, "SLACK_API_URL": await api.start()}))
        try:
            await asyncio.wait_for(ready(api), 5)
            yield api, core
        finally:
            stop.set()
            await asyncio.wait_for(serving, 10)
    finally:
        await api.close()
        await engine.close()


def socket_bot(db: str, settings: BotSettings) -> AbstractAsyncContextManager[tuple[FakeSlack, BotCore]]:
    """:func:`served` over Socket Mode with one workspace's tokens, once the bot has connected."""
    return served(db, settings, {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, _connected)


async def _connected(api: FakeSlack) -> None:
    await api.connected.wait()


async def listening(port: int) -> None:
    """Wait until something accepts connections on ``port``."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def post(url: str, body: str, content_type: str, secret: str = SECRET, age: int = 0) -> int:
    """Post ``body`` to the bot at ``url``'s /slack/events, signed as Slack signs (with ``secret``,
    ``age`` seconds ago); its HTTP status."""
    timestamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/slack/events", data=body.encode(), headers=headers) as response:
            return response.status
