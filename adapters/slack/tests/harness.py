"""The bot in Socket Mode against the fake Slack, on a fresh database: what the Socket Mode tests run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.slack import serve
from adapters.slack.tests.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from bot.core import BotCore
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.helpers import split_pairs


@asynccontextmanager
async def socket_bot(db: str, settings: BotSettings) -> AsyncIterator[tuple[FakeSlack, BotCore]]:
    """Serve a bot core (its base model trained on the starter dialogs, in the SQLite file ``db``)
    to a fake Slack over Socket Mode; stops it, the fake and the database afterwards."""
    engine = await DBSLMEngine.open(db)
    api = FakeSlack()
    try:
        await engine.train_dialog(split_pairs()[0])
        core = BotCore(engine, settings)
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": await api.start()}
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(core, stop, env))
        try:
            await asyncio.wait_for(api.connected.wait(), 5)
            yield api, core
        finally:
            stop.set()
            await asyncio.wait_for(serving, 10)
    finally:
        await api.close()
        await engine.close()
