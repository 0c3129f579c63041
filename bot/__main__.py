"""``python -m bot``: run the bot on the configured database with the configured adapters.

Discord runs when ``DISCORD_TOKEN`` is set, else Slack in HTTP mode when ``SLACK_BOT_TOKEN``
and ``SLACK_SIGNING_SECRET`` are, else the console. Tokens are checked at start and never
printed. (Running Discord and Slack in one process is not built yet.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys

import pymysql

from adapters.console import ConsoleAdapter
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import load_bot_settings
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs



async def main() -> int:
    settings = load_settings()
    engine = await DBSLMEngine.open(settings.database, settings.model, settings.embedder_model)
    try:
        if not (await engine.stats())["trained"]:
            print("training the starter model ...", file=sys.stderr)
            await engine.train_dialog(starter_pairs(), source="starter")
        core = BotCore(engine, load_bot_settings())
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if os.environ.get("DISCORD_TOKEN"):
            from adapters.discord import serve

            await serve(core, stop, os.environ["DISCORD_TOKEN"])
        elif os.environ.get("SLACK_BOT_TOKEN") and os.environ.get("SLACK_SIGNING_SECRET"):
            from adapters.slack import serve

            await serve(core, stop, os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"],
                        os.environ.get("SLACK_API_URL") or None, os.environ.get("BOT_SLACK_HOST", "127.0.0.1"),
                        int(os.environ.get("BOT_SLACK_PORT", "3000")))
        else:
            print("the bot is listening on the console (Ctrl-D or SIGTERM stops it)", file=sys.stderr)
            await ConsoleAdapter(core).run(stop=stop)
    finally:
        await engine.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (BotError, DbslmError, sqlite3.Error, pymysql.Error) as exc:
        print(f"bot: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
