"""``dbslm-bot`` (``python -m app``): the bot on the configured database with the configured adapters.

Every platform whose credentials are set runs, side by side in one process: Discord when
``DISCORD_TOKEN`` is set, Slack when ``SLACK_BOT_TOKEN`` is (one workspace) or
``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` are (many, installed through OAuth), in Socket
Mode with ``SLACK_APP_TOKEN``, else HTTP mode; the console when neither is. Discord's shards
are ``BOT_SHARD_COUNT`` and ``BOT_SHARD_IDS`` (processes sharing one MariaDB). With
``BOT_HTTP_PORT`` it serves ``/healthz`` and ``/metrics`` too. Tokens are checked at start and
never printed. SIGTERM (or Ctrl-C) stops taking messages, finishes the replies and trainings in
flight and closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass

from app import collector
from app.logs import FORMATS, configure_logging
from app.operations import operations_served
from app.platforms import check_platform_settings, run_platforms
from bot.core import BotCore
from bot.errors import BotError
from bot.settings import load_bot_settings
from dbslm.config import env_number, load_settings, old_default_note
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs

log = logging.getLogger("app")
LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ProcessSettings:
    """How the process reports: its log, and the operations port (None: not served)."""

    log_format: str
    log_level: str
    http_host: str
    http_port: int | None


def load_process_settings() -> ProcessSettings:
    """``BOT_LOG_FORMAT`` (text or json), ``BOT_LOG_LEVEL``, ``BOT_HTTP_HOST`` and ``BOT_HTTP_PORT``,
    each checked: a bad value is a one-line error naming the variable."""
    load_settings()  # reads .env too
    env = os.environ.get
    form, level = env("BOT_LOG_FORMAT", "text").strip().lower(), env("BOT_LOG_LEVEL", "info").strip().lower()
    if form not in FORMATS:
        raise BotError(f"BOT_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {form!r}")
    if level not in LEVELS:
        raise BotError(f"BOT_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    port = env("BOT_HTTP_PORT", "").strip()
    return ProcessSettings(
        form,
        level.upper(),
        env("BOT_HTTP_HOST", "127.0.0.1").strip() or "127.0.0.1",
        env_number("BOT_HTTP_PORT", port, 1, 65535, kind=int) if port else None,
    )


async def main(process: ProcessSettings) -> int:
    settings = load_settings()
    bot_settings = load_bot_settings()  # a bad setting is reported before anything starts
    check_platform_settings(os.environ)
    if note := old_default_note(settings):
        log.warning(note)
    engine = await DBSLMEngine.open(settings.database, settings.model, settings.embedder_model, settings.mariadb_url)
    log.info("the bot's database is %s", engine.store.db.description)
    try:
        async with engine.store.db.lock("starter"):  # processes started together train it once
            if not (await engine.stats())["trained"]:
                log.info("training the starter model ...")
                await engine.train_dialog(starter_pairs(), source="starter")
        core = BotCore(engine, bot_settings)
        await core.start()
        collector.settle()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        port = process.http_port
        async with operations_served(core, process.http_host, port) if port else contextlib.nullcontext():
            await run_platforms(core, stop, dict(os.environ))
    finally:
        await engine.close()
    return 0


def run() -> None:
    """The process: its exit status 1 with one line on standard error when it cannot start."""
    try:
        process = load_process_settings()
    except (BotError, DbslmError) as exc:
        print(f"dbslm-bot: error: {exc}", file=sys.stderr)
        sys.exit(1)
    configure_logging(process.log_format, process.log_level)
    try:
        sys.exit(asyncio.run(main(process)))
    except (BotError, DbslmError) as exc:
        log.error("dbslm-bot: error: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    run()
