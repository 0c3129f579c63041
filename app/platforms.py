"""The platforms a process serves, side by side on one bot core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from adapters.console import ConsoleAdapter
from bot.core import BotCore

log = logging.getLogger(__name__)
Serve = Callable[[BotCore, asyncio.Event, Mapping[str, str]], Awaitable[None]]


def platforms(env: Mapping[str, str]) -> dict[str, Serve]:
    """The adapters whose credentials ``env`` holds."""
    found: dict[str, Serve] = {}
    if env.get("DISCORD_TOKEN"):
        from adapters.discord import serve as serve_discord

        found["discord"] = serve_discord
    if any(env.get(name) for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")):
        from adapters.slack import serve as serve_slack

        found["slack"] = serve_slack
    return found


def check_platform_settings(env: Mapping[str, str]) -> None:
    """Refuse the platforms' own settings that are wrong before anything starts (a BotError
    naming the variable): Discord's shards."""
    if env.get("DISCORD_TOKEN"):
        from adapters.discord.adapter import shards

        shards(env)


async def run_platforms(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Serve every configured platform until ``stop``; one failing stops the others, then its
    error is raised. The core is closed once, after every platform stopped."""
    found = platforms(env)
    if not found:
        log.info("the bot is listening on the console (Ctrl-D or SIGTERM stops it)")
        await ConsoleAdapter(core).run(stop=stop)
        return
    tasks = [asyncio.create_task(serve(core, stop, env), name=name) for name, serve in found.items()]
    try:
        for finished in asyncio.as_completed(tasks):
            try:
                await finished
            except BaseException:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
    finally:
        await core.close()
