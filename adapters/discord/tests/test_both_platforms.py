"""dbslm-bot's platform runner: Discord and Slack side by side in one process, one core."""

from __future__ import annotations

import asyncio

import pytest

from adapters.discord.tests.fake_discord import user
from adapters.slack.tests.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack, event_body
from app.platforms import run_platforms
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import BotSettings

SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)


@pytest.fixture
async def fake_slack():
    api = FakeSlack()
    api.url = await api.start()
    yield api
    await api.close()


async def test_discord_and_slack_answer_from_one_core(fake_discord, fake_slack, dialog_engine):
    env = {
        "DISCORD_TOKEN": "fake-token",
        "DISCORD_API_URL": fake_discord.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": fake_slack.url,
    }
    core, stop = BotCore(dialog_engine, SETTINGS), asyncio.Event()
    running = asyncio.create_task(run_platforms(core, stop, env))
    await asyncio.wait_for(asyncio.gather(fake_discord.ready.wait(), fake_slack.connected.wait()), 10)
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.message("1", "50", user("7", "ann"), "Hello"))
    await fake_slack.push("events_api", event_body("message", "Hello", "U1", "D1", channel_type="im"))
    assert (await fake_discord.wait_for_messages(1))[0]["content"]
    assert (await fake_slack.posted.wait_for(1))[0]["text"]
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_one_platform_failing_stops_the_other(fake_slack, dialog_engine):
    env = {
        "DISCORD_TOKEN": " ",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": fake_slack.url,
    }
    with pytest.raises(BotError, match="^DISCORD_TOKEN is not set$"):
        await asyncio.wait_for(run_platforms(BotCore(dialog_engine, SETTINGS), asyncio.Event(), env), 10)
