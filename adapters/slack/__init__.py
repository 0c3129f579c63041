"""The Slack adapter: slack-bolt's async app, HTTP mode with request-signature verification.

Mentions and direct messages become bot messages; the slash commands (/correct, /history,
/stats, /forget, /train, /help) are acknowledged at once and answered afterwards through the
Web API. Socket Mode is not built yet.
"""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import BotCore
from bot.events import Message
from bot.errors import BotError

PLATFORM = "slack"
MESSAGE_LIMIT = 40000
COMMANDS = ("/correct", "/history", "/stats", "/forget", "/train", "/help")
MENTION = re.compile(r"<@[A-Z0-9]+>\s*")


class SlackAdapter:
    def __init__(self, core: BotCore, bot_token: str, signing_secret: str, api_url: str | None = None) -> None:
        self.core = core
        client = AsyncWebClient(token=bot_token, **({"base_url": api_url} if api_url else {}))
        self.app = AsyncApp(token=bot_token, signing_secret=signing_secret, client=client)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        for name in COMMANDS:
            self.app.command(name)(self._on_command)

    def web_app(self) -> web.Application:
        """The aiohttp application that receives Slack's signed requests at /slack/events."""
        return self.app.web_app(path="/slack/events")

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        await self._dispatch(event, body, client, mentions_bot=True, is_dm=False)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") == "im" and not event.get("subtype"):
            await self._dispatch(event, body, client, mentions_bot=False, is_dm=True)

    async def _dispatch(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, *,
                        mentions_bot: bool, is_dm: bool) -> None:
        thread = event.get("thread_ts")
        message = Message(PLATFORM, body.get("team_id", ""), event["channel"], event.get("user", ""),
                          MENTION.sub("", event.get("text", "")).strip(), thread=thread, is_dm=is_dm,
                          mentions_bot=mentions_bot, from_bot=bool(event.get("bot_id")),
                          is_admin=await self._is_admin(client, event.get("user")))

        async def send(text: str, *, private: bool = False) -> None:
            await client.chat_postMessage(channel=event["channel"], text=text, thread_ts=thread)

        await self.core.handle(message, send, MESSAGE_LIMIT)

    async def _on_command(self, ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # within Slack's 3 seconds; the answer follows
        message = Message(PLATFORM, command.get("team_id", ""), command["channel_id"], command["user_id"],
                          f"{command['command']} {command.get('text', '')}".strip(), is_dm=True,
                          is_admin=await self._is_admin(client, command["user_id"]))

        async def send(text: str, *, private: bool = False) -> None:
            await client.chat_postMessage(channel=command["channel_id"], text=text)

        await self.core.handle(message, send, MESSAGE_LIMIT)

    @staticmethod
    async def _is_admin(client: AsyncWebClient, user: str | None) -> bool:
        if not user:
            return False
        info = await client.users_info(user=user)
        return bool(info.get("user", {}).get("is_admin"))


async def serve(core: BotCore, stop: asyncio.Event, bot_token: str, signing_secret: str, api_url: str | None,
                host: str, port: int) -> None:
    """Check the token, then serve Slack's signed requests until ``stop``."""
    adapter = SlackAdapter(core, bot_token, signing_secret, api_url)
    try:
        await adapter.app.client.auth_test()
    except SlackApiError as exc:
        raise BotError(f"SLACK_BOT_TOKEN was refused by Slack ({exc.response.get('error', 'error')})") from None
    except OSError as exc:
        raise BotError(f"cannot reach Slack to check SLACK_BOT_TOKEN: {type(exc).__name__}") from None
    runner = web.AppRunner(adapter.web_app())
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"the bot is listening for Slack on {host}:{port} (SIGTERM stops it)", file=sys.stderr)
    await stop.wait()
    await runner.cleanup()
    await core.commands.wait_for_training()
