"""The Discord adapter on the real discord.py client, connected to a fake Discord on loopback."""

from __future__ import annotations

import pytest

from adapters.discord.tests.fake_discord import FakeDiscord
from adapters.discord.tests.harness import running_bot
from bot.core import BotCore
from bot.settings import BotSettings

SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)


@pytest.fixture
async def fake_discord():
    """A fake Discord on loopback (the bot reaches it through its API URL, ``fake.api_url``)."""
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def core(dialog_engine):
    """The bot core on a SQLite model trained on the starter dialogs."""
    return BotCore(dialog_engine, SETTINGS)


@pytest.fixture
async def discord_bot(fake_discord, core):
    """The fake, once the bot has logged in, synced its commands and seen the servers."""
    async with running_bot(fake_discord, core):
        yield fake_discord
