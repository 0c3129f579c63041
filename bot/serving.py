"""An aiohttp application served on a port while a block runs: Slack's events and install
page, and the operations endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.errors import BotError


@asynccontextmanager
async def http_served(app: web.Application, host: str, port: int, purpose: str, settings: str) -> AsyncIterator[None]:
    """``app`` on ``host``:``port`` until the block ends; a port that cannot be bound is a
    one-line :class:`BotError` saying what it was for (``purpose``) and which ``settings`` name it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise BotError(f"cannot {purpose} on {host}:{port} ({settings}): {exc.strerror}") from None
        yield
    finally:
        await runner.cleanup()
