"""``dbslm-bot`` (``python -m app``): the bot on the configured database with the configured adapters.

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
import sys

from app.platforms import run_platforms
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import load_bot_settings
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs


async def main() -> int:
    settings = load_settings()
    bot_settings = load_bot_settings()  # a bad setting is reported before anything starts
    engine = await DBSLMEngine.open(settings.database, settings.model, settings.embedder_model, settings.mariadb_url)
    try:
        async with engine.store.db.lock("starter"):  # processes started together train it once
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


def run() -> None:
    """The process: its exit status 1 with one line on standard error when it cannot start."""
    try:
        sys.exit(asyncio.run(main()))
    except (BotError, DbslmError) as exc:
        print(f"dbslm-bot: error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    run()
