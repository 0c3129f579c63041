"""The bot on the real discord.py client, connected to the fake Discord, and what the tests say to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.discord import DiscordAdapter
from adapters.discord.tests.fake_discord import BOT, GUILD, FakeDiscord, user
from bot.core import BotCore

ANN = user("7", "ann")
BOSS = user("9", "boss")


@asynccontextmanager
async def running_bot(fake: FakeDiscord, core: BotCore) -> AsyncIterator[DiscordAdapter]:
    """A Discord adapter on ``core``, logged in to ``fake`` and connected until the block ends
    (the core's trainings and batches are finished then)."""
    adapter = DiscordAdapter(core, api_url=fake.api_url)
    await asyncio.wait_for(adapter.client.login("fake-token"), 10)
    available = asyncio.create_task(adapter.client.wait_for("guild_available", timeout=10))
    task = asyncio.create_task(adapter.client.connect())
    try:
        await available
        yield adapter
    finally:
        await adapter.client.close()
        task.cancel()
        await asyncio.wait_for(core.close(), 10)


async def ask(fake: FakeDiscord, channel: str, text: str, guild: str = GUILD) -> str:
    """Mention the bot with ``text`` in ``channel`` of ``guild``; its answer."""
    count = len(fake.sent) + 1
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message(f"1{count}", channel, ANN, f"<@{BOT['id']}> {text}", guild, [BOT])
    )
    return (await fake.wait_for_messages(count))[-1]["content"]


async def followups(fake: FakeDiscord, token: str, count: int) -> list[dict]:
    """The first ``count`` follow-ups to the interaction ``token``."""

    async def enough() -> list[dict]:
        while len(mine := [f for f in fake.followups if f["token"] == token]) < count:
            await fake.followups.wait_for(len(fake.followups) + 1)
        return mine[:count]

    return await asyncio.wait_for(enough(), 10)
