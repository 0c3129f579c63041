"""``python -m bot``: run the bot on the configured database with the available adapters.

Discord and Slack adapters are not built yet, so the console runs; a configured platform token
is reported, never printed.
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
from bot.settings import load_bot_settings
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs

PLATFORM_TOKENS = ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


async def main() -> int:
    settings = load_settings()
    engine = await DBSLMEngine.open(settings.database, settings.model)
    try:
        if not (await engine.stats())["trained"]:
            print("training the starter model ...", file=sys.stderr)
            await engine.train_dialog(starter_pairs(), source="starter")
        configured = [name for name in PLATFORM_TOKENS if os.environ.get(name)]
        if configured:
            print(f"{', '.join(configured)} set, but the Discord and Slack adapters are not part of this "
                  "version; starting the console.", file=sys.stderr)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("the bot is listening on the console (Ctrl-D or SIGTERM stops it)", file=sys.stderr)
        await ConsoleAdapter(BotCore(engine, load_bot_settings())).run(stop=stop)
    finally:
        await engine.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except (DbslmError, sqlite3.Error, pymysql.Error) as exc:
        print(f"bot: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
