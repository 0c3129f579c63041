"""The Slack adapter: slack-bolt's async app in Socket Mode (the default) or HTTP mode, for one
workspace (its bot token) or for many (slack-bolt's OAuth flow, installations in the bot's database).

With an app-level token (``SLACK_APP_TOKEN``, ``xapp-...``) the bot connects out to Slack over a
websocket and needs no public address; with only a signing secret it serves Slack's signed
requests at /slack/events. With a client id and secret instead of a bot token, its HTTP server
also serves the install page (/slack/install) and Slack's redirect (/slack/oauth_redirect), and
each workspace is answered with the bot token its installation stored. Either way the same
:class:`SlackAdapter` answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.adapter import SlackAdapter
from adapters.slack.oauth import oauth_settings
from bot.core import BotCore
from bot.errors import BotError
from bot.serving import http_served

__all__ = ["SlackAdapter", "serve"]
log = logging.getLogger(__name__)
OAUTH_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")


async def serve(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Answer on Slack until ``stop``: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode.

    Reads SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many, with
    SLACK_SIGNING_SECRET, SLACK_SCOPES and SLACK_REDIRECT_URI: :func:`oauth_settings`),
    SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL (another Web API base URL, such as a
    test's fake Slack), and BOT_SLACK_HOST and BOT_SLACK_PORT (the HTTP server's; 127.0.0.1 and
    3000 by default) from ``env``. The tokens are checked with Slack first; a missing or refused
    one raises :class:`BotError` naming the variable, never its value. With many workspaces the
    HTTP server runs in Socket Mode too, for the install page.
    """
    adapter, app_token = _adapter(core, env)
    if not adapter.many_workspaces:
        await _checked(adapter.app.client.auth_test(), "SLACK_BOT_TOKEN")
    url = ""
    if app_token:
        url = (await _checked(adapter.app.client.apps_connections_open(app_token=app_token), "SLACK_APP_TOKEN"))["url"]
    async with AsyncExitStack() as stack:
        if adapter.many_workspaces or not app_token:
            await stack.enter_async_context(
                _http_server(adapter, env.get("BOT_SLACK_HOST", "127.0.0.1"), _port(env), events=not app_token)
            )
        if app_token:
            await _socket_mode(adapter, app_token, url, stop)
        else:
            await stop.wait()


def _adapter(core: BotCore, env: Mapping[str, str]) -> tuple[SlackAdapter, str]:
    """The adapter ``env`` configures, and its app-level token ('' for HTTP mode); a BotError
    names what is missing or contradictory."""
    bot_token, app_token = env.get("SLACK_BOT_TOKEN"), env.get("SLACK_APP_TOKEN", "")
    signing_secret, api_url = env.get("SLACK_SIGNING_SECRET", ""), env.get("SLACK_API_URL") or None
    oauth = [name for name in OAUTH_VARIABLES if env.get(name)]
    if bot_token and oauth:
        raise BotError(
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many), not both"
        )
    if oauth:
        missing = [name for name in (*OAUTH_VARIABLES, "SLACK_SIGNING_SECRET") if not env.get(name)]
        if missing:
            raise BotError(f"installing into many workspaces needs {' and '.join(missing)} as well")
        with _settings_given_alone():
            settings = oauth_settings(env, core.engine.store.db)
            return SlackAdapter(core, None, signing_secret, api_url, settings), app_token
    if not bot_token:
        raise BotError("SLACK_BOT_TOKEN is not set")
    if not (app_token or signing_secret):
        raise BotError("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) to serve Slack")
    with _settings_given_alone():
        return SlackAdapter(core, bot_token, "" if app_token else signing_secret, api_url), app_token


@contextmanager
def _settings_given_alone() -> Iterator[None]:
    """While slack-bolt's app is made, the process's SLACK_ variables hidden from it: bolt reads
    SLACK_BOT_TOKEN, SLACK_CLIENT_ID and others from the environment besides its arguments, and
    takes the empty ones of a copied .env.example for settings (empty client credentials turn its
    OAuth flow on, an empty token gets a warning). The adapter gives it every setting itself."""
    hidden = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("SLACK_")}
    try:
        yield
    finally:
        os.environ.update(hidden)


async def _checked(call: Awaitable[AsyncSlackResponse], variable: str) -> AsyncSlackResponse:
    """The response of a Web API call made with the token in ``variable``, or a BotError naming it."""
    try:
        return await call
    except SlackApiError as exc:
        raise BotError(f"{variable} was refused by Slack ({exc.response.get('error', 'error')})") from None
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        raise BotError(f"cannot reach Slack to check {variable}: {type(exc).__name__}") from None


async def _socket_mode(adapter: SlackAdapter, app_token: str, url: str, stop: asyncio.Event) -> None:
    handler = adapter.socket_mode(app_token)
    handler.client.wss_uri = url  # the URL that checked the token; reconnections ask for new ones
    connecting = asyncio.create_task(handler.connect_async())  # retries (and logs) until it connects
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connecting.done():
            log.info("the bot is connected to Slack in Socket Mode (SIGTERM stops it)")
        await stopping
    finally:
        connecting.cancel()
        stopping.cancel()
        await handler.close_async()


@asynccontextmanager
async def _http_server(adapter: SlackAdapter, host: str, port: int, *, events: bool) -> AsyncIterator[None]:
    """The adapter's HTTP server on ``host``:``port`` while the block runs (``events``: Slack's
    events come to it; else it serves only the install page)."""
    async with http_served(adapter.web_app(), host, port, "listen for Slack", "BOT_SLACK_HOST, BOT_SLACK_PORT"):
        if events:
            log.info("the bot is listening for Slack on %s:%s (SIGTERM stops it)", host, port)
        if adapter.many_workspaces:
            log.info("install the bot into a Slack workspace at http://%s:%s/slack/install", host, port)
        yield


def _port(env: Mapping[str, str]) -> int:
    try:
        return int(env.get("BOT_SLACK_PORT", "3000"))
    except ValueError:
        raise BotError("BOT_SLACK_PORT must be a port number") from None
