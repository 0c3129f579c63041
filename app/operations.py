"""The bot's operations port (``BOT_HTTP_PORT``): ``/healthz`` for a container's or a load
balancer's health check, ``/metrics`` for Prometheus (see :mod:`dbslm.telemetry`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from bot.core import BotCore
from bot.serving import http_served

log = logging.getLogger(__name__)


def operations_app(core: BotCore) -> web.Application:
    """The two endpoints, on ``core``."""

    async def healthz(request: web.Request) -> web.Response:
        problem = await core.health()
        if problem is None:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unavailable", "reason": problem}, status=503)

    async def metrics(request: web.Request) -> web.Response:
        await core.health()  # the queue gauge is read from the database at each scrape
        body = await asyncio.to_thread(generate_latest, REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def operations_served(core: BotCore, host: str, port: int) -> AsyncIterator[None]:
    """Serve the operations endpoints on ``host``:``port`` while the block runs."""
    settings = "BOT_HTTP_HOST, BOT_HTTP_PORT"
    async with http_served(operations_app(core), host, port, "serve /healthz and /metrics", settings):
        log.info("health and metrics at http://%s:%s/healthz and /metrics", host, port)
        yield
