"""The Slack adapter: slack-bolt's async app in Socket Mode (the default) or HTTP mode.

With an app-level token (``SLACK_APP_TOKEN``, ``xapp-...``) the bot connects out to Slack over a
websocket and needs no public address; with only a signing secret it serves Slack's signed
requests at /slack/events. Either way the same :class:`SlackAdapter` answers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Mapping

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.adapter import SlackAdapter
from bot.core import BotCore
from bot.errors import BotError

__all__ = ["SlackAdapter", "serve"]


async def serve(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Answer on Slack until ``stop``: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode.

    Reads SLACK_BOT_TOKEN (required), SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL (another
    Web API base URL, such as a test's fake Slack), and BOT_SLACK_HOST and BOT_SLACK_PORT (HTTP mode;
    127.0.0.1 and 3000 by default) from ``env``. The tokens are checked with Slack first; a missing
    or refused one raises :class:`BotError` naming the variable, never its value.
    """
    bot_token, app_token = env.get("SLACK_BOT_TOKEN"), env.get("SLACK_APP_TOKEN")
    signing_secret = env.get("SLACK_SIGNING_SECRET")
    if not bot_token:
        raise BotError("SLACK_BOT_TOKEN is not set")
    if not (app_token or signing_secret):
        raise BotError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) to serve Slack")
    adapter = SlackAdapter(core, bot_token, "" if app_token else signing_secret, env.get("SLACK_API_URL") or None)
    await _checked(adapter.app.client.auth_test(), "SLACK_BOT_TOKEN")
    if app_token:
        opened = await _checked(adapter.app.client.apps_connections_open(app_token=app_token), "SLACK_APP_TOKEN")
        await _socket_mode(adapter, app_token, opened["url"], stop)
    else:
        await _http_mode(adapter, env.get("BOT_SLACK_HOST", "127.0.0.1"), _port(env), stop)


async def _checked(call: Awaitable[AsyncSlackResponse], variable: str) -> AsyncSlackResponse:
    """The response of a Web API call made with the token in ``variable``, or a BotError naming it."""
    try:
        return await call
    except SlackApiError as exc:
        raise BotError(f"{variable} was refused by Slack ({exc.response.get('error', 'error')})") from None
    except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise BotError(f"cannot reach Slack to check {variable}: {type(exc).__name__}") from None


async def _socket_mode(adapter: SlackAdapter, app_token: str, url: str, stop: asyncio.Event) -> None:
    handler = adapter.socket_mode(app_token)
    handler.client.wss_uri = url  # the URL that checked the token; reconnections ask for new ones
    connecting = asyncio.create_task(handler.connect_async())  # retries (and logs) until it connects
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            print("the bot is connected to Slack in Socket Mode (SIGTERM stops it)", file=sys.stderr)
        await stopping
    finally:
        connecting.cancel()
        stopping.cancel()
        await handler.close_async()


async def _http_mode(adapter: SlackAdapter, host: str, port: int, stop: asyncio.Event) -> None:
    runner = web.AppRunner(adapter.web_app())
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise BotError(
                f"cannot listen for Slack on {host}:{port} (BOT_SLACK_HOST, BOT_SLACK_PORT): {exc.strerror}"
            ) from None
        print(f"the bot is listening for Slack on {host}:{port} (SIGTERM stops it)", file=sys.stderr)
        await stop.wait()
    finally:
        await runner.cleanup()


def _port(env: Mapping[str, str]) -> int:
    try:
        return int(env.get("BOT_SLACK_PORT", "3000"))
    except ValueError:
        raise BotError("BOT_SLACK_PORT must be a port number") from None
