"""``python -m bot``: run the bot on the configured database with the configured adapters.

Slack runs in HTTP mode when ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` are set; the
console runs when no platform is configured. Tokens are checked at start and never printed.
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



async def run_slack(core: BotCore, stop: asyncio.Event) -> None:
    """Serve Slack's signed requests until ``stop``; the token is verified first."""
    from aiohttp import web
    from slack_sdk.errors import SlackApiError

    from adapters.slack import SlackAdapter

    adapter = SlackAdapter(core, os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"],
                           os.environ.get("SLACK_API_URL") or None)
    try:
        await adapter.app.client.auth_test()
    except SlackApiError as exc:
        raise DbslmError(f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error', 'error')})") from None
    except OSError as exc:
        raise DbslmError(f"cannot reach Slack to check SLACK_BOT_TOKEN: {type(exc).__name__}") from None
    runner = web.AppRunner(adapter.web_app())
    await runner.setup()
    port = int(os.environ.get("BOT_SLACK_PORT", "3000"))
    await web.TCPSite(runner, os.environ.get("BOT_SLACK_HOST", "127.0.0.1"), port).start()
    print(f"the bot is listening for Slack on port {port} (SIGTERM stops it)", file=sys.stderr)
    await stop.wait()
    await runner.cleanup()
    await core.commands.wait_for_training()


async def main() -> int:
    settings = load_settings()
    engine = await DBSLMEngine.open(settings.database, settings.model)
    try:
        if not (await engine.stats())["trained"]:
            print("training the starter model ...", file=sys.stderr)
            await engine.train_dialog(starter_pairs(), source="starter")
        core = BotCore(engine, load_bot_settings())
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if os.environ.get("DISCORD_TOKEN"):
            print("DISCORD_TOKEN is set, but the Discord adapter is not part of this version.", file=sys.stderr)
        if os.environ.get("SLACK_BOT_TOKEN") and os.environ.get("SLACK_SIGNING_SECRET"):
            await run_slack(core, stop)
        else:
            print("the bot is listening on the console (Ctrl-D or SIGTERM stops it)", file=sys.stderr)
            await ConsoleAdapter(core).run(stop=stop)
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
