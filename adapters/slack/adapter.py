"""The Slack adapter's bolt app, the same in Socket Mode and HTTP mode.

Mentions and direct messages become bot messages; a mention or DM whose text is ``/train`` with
files attached trains on them (Slack's slash commands carry no files). The slash commands are
acknowledged at once and answered afterwards through the Web API; private replies (refusals,
errors) are ephemeral: only their caller sees them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.files import UploadRefused, fetch_files
from bot.events import Send
from bot.core import BotCore
from bot.events import Message

PLATFORM = "slack"
MESSAGE_LIMIT = 40000
COMMANDS = ("/correct", "/history", "/stats", "/forget", "/train", "/flush", "/help")
MENTION = re.compile(r"<@[A-Z0-9]+>\s*")
DM_SUBTYPES = (None, "file_share")  # a plain direct message, or one with files attached


class SlackAdapter:
    """One slack-bolt app for both modes: ``socket_mode()`` connects out, ``web_app()`` takes signed requests."""

    def __init__(self, core: BotCore, bot_token: str, signing_secret: str = "", api_url: str | None = None) -> None:
        self.core = core
        self._signing_secret = signing_secret
        client = AsyncWebClient(token=bot_token, **({"base_url": api_url} if api_url else {}))
        self.app = AsyncApp(client=client, signing_secret=signing_secret)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        for name in COMMANDS:
            self.app.command(name)(self._on_command)

    def socket_mode(self, app_token: str) -> AsyncSocketModeHandler:
        """A Socket Mode handler: it gets its ``wss://`` URL from apps.connections.open with ``app_token``."""
        return AsyncSocketModeHandler(self.app, app_token)

    def web_app(self) -> web.Application:
        """The aiohttp application that receives Slack's signed requests at /slack/events (HTTP mode)."""
        if not self._signing_secret:
            raise ValueError("HTTP mode needs a signing secret to verify Slack's requests")
        return self.app.web_app(path="/slack/events")

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        await self._dispatch(event, body, client, mentions_bot=True)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") == "im" and event.get("subtype") in DM_SUBTYPES:
            await self._dispatch(event, body, client, is_dm=True)

    async def _dispatch(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, *,
                        mentions_bot: bool = False, is_dm: bool = False) -> None:
        channel, user, thread = event["channel"], event.get("user", ""), event.get("thread_ts")
        message = Message(PLATFORM, body.get("team_id", ""), channel, user,
                          MENTION.sub("", event.get("text", "")).strip(), thread=thread, is_dm=is_dm,
                          mentions_bot=mentions_bot, from_bot=bool(event.get("bot_id")),
                          is_admin=await self._is_admin(client, user))
        send = self._sender(client, channel, user, thread)
        files = event.get("files")
        if files and message.text.lower().split()[:1] == ["/train"] and self.core.commands.is_admin(message):
            try:
                message = replace(message, attachments=await fetch_files(client, files,
                                                                         self.core.settings.max_upload_mb))
            except UploadRefused as exc:
                await send(str(exc), private=True)
                return
        await self.core.handle(message, send, MESSAGE_LIMIT)

    async def _on_command(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # within Slack's 3 seconds; the answer follows
        channel, user = command["channel_id"], command["user_id"]
        message = Message(PLATFORM, command.get("team_id", ""), channel, user,
                          f"{command['command']} {command.get('text', '')}".strip(), is_dm=True,
                          is_admin=await self._is_admin(client, user))
        await self.core.handle(message, self._sender(client, channel, user), MESSAGE_LIMIT)

    @staticmethod
    def _sender(client: AsyncWebClient, channel: str, user: str, thread: str | None = None) -> Send:
        """Post to ``channel`` (in ``thread``); a private reply is ephemeral, shown to ``user`` alone."""
        async def send(text: str, *, private: bool = False) -> None:
            if private:
                await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread)
            else:
                await client.chat_postMessage(channel=channel, text=text, thread_ts=thread)

        return send

    @staticmethod
    async def _is_admin(client: AsyncWebClient, user: str) -> bool:
        if not user:
            return False
        info = await client.users_info(user=user)
        return bool(info.get("user", {}).get("is_admin"))
