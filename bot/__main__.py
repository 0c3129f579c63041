"""``python -m bot``: run the bot on the configured database with the configured adapters.

Every platform whose credentials are set runs, side by side in one process: Discord when
``DISCORD_TOKEN`` is set, Slack when ``SLACK_BOT_TOKEN`` is (Socket Mode with
``SLACK_APP_TOKEN``, else HTTP mode with ``SLACK_SIGNING_SECRET``); the console when neither
is. Tokens are checked at start and never printed. SIGTERM (or Ctrl-C) stops taking messages,
finishes the replies and trainings in flight and closes the database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping

import pymysql

from adapters.console import ConsoleAdapter
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import load_bot_settings
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs

Serve = Callable[[BotCore, asyncio.Event, Mapping[str, str]], Awaitable[None]]


def platforms(env: Mapping[str, str]) -> dict[str, Serve]:
    """The adapters whose credentials ``env`` holds."""
    found: dict[str, Serve] = {}
    if env.get("DISCORD_TOKEN"):
        from adapters.discord import serve as serve_discord

        found["discord"] = serve_discord
    if env.get("SLACK_BOT_TOKEN"):
        from adapters.slack import serve as serve_slack

        found["slack"] = serve_slack
    return found


async def run_platforms(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Serve every configured platform until ``stop``; one failing stops the others, then its
    error is raised. The core is closed once, after every platform stopped."""
    found = platforms(env)
    if not found:
        print("the bot is listening on the console (Ctrl-D or SIGTERM stops it)", file=sys.stderr)
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


async def main() -> int:
    settings = load_settings()
    bot_settings = load_bot_settings()  # a bad setting is reported before anything starts
    engine = await DBSLMEngine.open(settings.database, settings.model, settings.embedder_model)
    try:
        if not (await engine.stats())["trained"]:
            print("training the starter model ...", file=sys.stderr)
            await engine.train_dialog(starter_pairs(), source="starter")
        core = BotCore(engine, bot_settings)
        await core.resume_learning()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await run_platforms(core, stop, dict(os.environ))
    finally:
        await engine.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (BotError, DbslmError, sqlite3.Error, pymysql.Error) as exc:
        print(f"bot: error: {exc}", file=sys.stderr)
        sys.exit(1)
