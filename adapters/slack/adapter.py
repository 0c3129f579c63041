"""The Slack adapter's bolt app, the same in Socket Mode and HTTP mode.

Every channel message the app receives (the message.channels and message.groups events) and
every direct message goes to the bot core, which answers mentions, DMs and commands, learns the
messages of listened channels and answers others with the channel's reply chance. A mention
arrives twice (an ``app_mention`` and a ``message`` event, in either order): both are turned
into the same bot message and whichever comes first is handled, the other dropped by its
``ts`` (so an app subscribed to app_mention alone still answers mentions, once). Deleted and
edited messages are unlearned (and relearned). A mention or DM whose text is ``/train`` with
files attached trains on them (Slack's slash commands carry no files). The slash commands are
acknowledged at once and answered afterwards through the Web API; private replies (refusals,
errors) are ephemeral: only their caller sees them. A 429 from the Web API is waited out
(its Retry-After) and the call retried. Installed into many workspaces (bolt's OAuth flow),
every request is answered with its workspace's bot token (bolt's per-request client); a workspace
that uninstalls the app is deleted from the installation store. With one workspace's token, its
uninstall is logged as a warning.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.files import UploadRefused, fetch_files
from adapters.slack.messages import CONTENT_SUBTYPES, PLATFORM, history_reader, incoming, slack_text
from bot.core import BotCore
from bot.events import Message, Send
from bot.registry import COMMANDS
from dbslm.recent import Recent

log = logging.getLogger(__name__)
MESSAGE_LIMIT = 40000
DM_SUBTYPES = (None, "file_share")  # a plain direct message, or one with files attached
CHANNEL_TYPES = ("channel", "group")  # public and private channels
SEEN_MESSAGES = 5000  # recent channel messages and commands remembered, so that each is handled once
ADMIN_SECONDS = 300.0  # how long a users.info answer (is the user a workspace admin?) is trusted
RATE_LIMIT_RETRIES = 3  # 429s waited out per Web API call before it fails
NOT_A_MEMBER = ("not_in_channel", "channel_not_found")  # chat.post* in a channel the bot is not in


class SlackAdapter:
    """One slack-bolt app for both modes: ``socket_mode()`` connects out, ``web_app()`` takes signed requests."""

    def __init__(
        self,
        core: BotCore,
        bot_token: str | None,
        signing_secret: str = "",
        api_url: str | None = None,
        oauth: AsyncOAuthSettings | None = None,
    ) -> None:
        """One workspace's app with ``bot_token``, or with ``oauth`` (and no token) an app that
        answers every workspace it was installed into, each with its own bot token."""
        self.core = core
        self._signing_secret = signing_secret
        retries = [*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]
        client = AsyncWebClient(token=bot_token, retry_handlers=retries, **({"base_url": api_url} if api_url else {}))
        # its per-request clients (and the OAuth flow's calls) copy the client's base URL and retries
        self.app = AsyncApp(client=client, signing_secret=signing_secret, oauth_settings=oauth)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        if oauth is not None:
            self.app.enable_token_revocation_listeners()  # an uninstalled workspace's rows are deleted
        else:
            self.app.event("app_uninstalled")(self._on_uninstalled)
            self.app.event("tokens_revoked")(self._on_uninstalled)
        for command in COMMANDS:
            self.app.command(command.slash)(self._on_command)
        self._seen: Recent[str, None] = Recent(SEEN_MESSAGES)
        self._admins: dict[tuple[str, str], tuple[bool, float]] = {}

    def socket_mode(self, app_token: str) -> AsyncSocketModeHandler:
        """A Socket Mode handler: it gets its ``wss://`` URL from apps.connections.open with ``app_token``."""
        return AsyncSocketModeHandler(self.app, app_token)

    @property
    def many_workspaces(self) -> bool:
        """Whether the app is installed through its OAuth flow, into any number of workspaces."""
        return self.app.oauth_flow is not None

    def web_app(self) -> web.Application:
        """The aiohttp application that receives Slack's signed requests at /slack/events (HTTP
        mode) and, with the OAuth flow, serves /slack/install and /slack/oauth_redirect."""
        if not self._signing_secret:
            raise ValueError("HTTP mode needs a signing secret to verify Slack's requests")
        return self.app.web_app(path="/slack/events")

    @staticmethod
    async def _on_uninstalled(event: dict[str, Any], body: dict[str, Any]) -> None:
        """The one workspace's app was uninstalled, or its bot token revoked: logged as a warning."""
        if event["type"] == "app_uninstalled" or event.get("tokens", {}).get("bot"):
            log.warning("Slack: the app's bot token for workspace %s was revoked", body.get("team_id"))

    async def _on_mention(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await self._channel_message(event, body.get("team_id", ""), client, context.bot_user_id)

    async def _on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        kind, subtype, team = event.get("channel_type"), event.get("subtype"), body.get("team_id", "")
        if kind == "im" and subtype in DM_SUBTYPES:
            await self._dispatch(event, team, client, context.bot_user_id, is_dm=True)
        elif kind not in CHANNEL_TYPES:
            return
        elif subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            await self.core.message_deleted(
                Message(
                    PLATFORM,
                    team,
                    event["channel"],
                    previous.get("user", ""),
                    "",
                    message_id=event.get("deleted_ts") or previous.get("ts"),
                )
            )
        elif subtype == "message_changed":
            new, old = event.get("message") or {}, event.get("previous_message") or {}
            if new.get("text") != old.get("text"):  # not a link preview or a reply count
                await self.core.message_edited(incoming(new, team, event["channel"], context.bot_user_id))
        elif subtype in CONTENT_SUBTYPES:
            await self._channel_message(event, team, client, context.bot_user_id)

    async def _channel_message(
        self, event: dict[str, Any], team: str, client: AsyncWebClient, bot_user: str | None
    ) -> None:
        """A message in a channel, from its ``message`` or its ``app_mention`` event, whichever is first."""
        if self._first_time(f"{team}:{event['channel']}:{event.get('ts')}"):
            await self._dispatch(event, team, client, bot_user, is_dm=False)

    def _first_time(self, key: str) -> bool:
        """Whether a message or command is new (Slack redelivers, and a signed request may be replayed)."""
        if key in self._seen:
            return False
        self._seen[key] = None
        return True

    async def _dispatch(
        self, event: dict[str, Any], team: str, client: AsyncWebClient, bot_user: str | None, *, is_dm: bool
    ) -> None:
        channel = event["channel"]
        message = incoming(
            event,
            team,
            channel,
            bot_user,
            is_dm=is_dm,
            history=None if is_dm else history_reader(client, team, channel, bot_user),
        )
        if not message.from_bot and (is_dm or message.mentions_bot or message.text.startswith("/")):
            # only what may be a command needs it: a users.info call per channel message would
            # run into Slack's rate limits in a busy channel
            message = replace(message, is_admin=await self._is_admin(client, team, message.user))
        send = self._sender(client, channel, message.user, message.thread)
        files = event.get("files")
        if files and message.text.lower().split()[:1] == ["/train"] and self.core.is_admin(message):
            try:
                message = replace(message, attachments=await fetch_files(client, files, self.core.max_upload_mb))
            except UploadRefused as exc:
                await send(str(exc), private=True)
                return
        await self.core.handle(message, send, MESSAGE_LIMIT)

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()  # within Slack's 3 seconds; the answer follows
        if not self._first_time(f"command:{command.get('trigger_id') or command.get('response_url')}"):
            return  # the same invocation again: a replayed request runs nothing twice
        team, channel, user = command.get("team_id", ""), command["channel_id"], command["user_id"]
        is_dm = channel.startswith("D")
        text, _ = slack_text(f"{command['command']} {command.get('text', '')}", None)
        message = Message(
            PLATFORM,
            team,
            channel,
            user,
            text,
            is_dm=is_dm,
            is_admin=await self._is_admin(client, team, user),
            history=None if is_dm else history_reader(client, team, channel, context.bot_user_id),
        )
        await self.core.handle(
            message, self._sender(client, channel, user, response_url=command.get("response_url")), MESSAGE_LIMIT
        )

    @staticmethod
    def _sender(
        client: AsyncWebClient, channel: str, user: str, thread: str | None = None, response_url: str | None = None
    ) -> Send:
        """Post to ``channel`` (in ``thread``); a private reply is ephemeral, shown to ``user`` alone.

        A slash command's answer in a channel the bot is not a member of goes to the command's
        ``response_url`` (valid for half an hour), where Slack refuses chat.postMessage.
        """

        async def send(text: str, *, private: bool = False) -> None:
            try:
                if private:
                    await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread)
                else:
                    await client.chat_postMessage(channel=channel, text=text, thread_ts=thread)
            except SlackApiError as exc:
                if response_url is None or exc.response.get("error") not in NOT_A_MEMBER:
                    raise
                await AsyncWebhookClient(response_url).send(
                    text=text, response_type="ephemeral" if private else "in_channel"
                )

        return send

    async def _is_admin(self, client: AsyncWebClient, team: str, user: str) -> bool:
        """Whether ``user`` is an admin of the workspace ``team`` (users.info, remembered a while).

        Bolt's per-request client sends the event's ``team_id`` with every call, which tells an
        org-wide installation the workspace meant. A user Slack does not show (of another
        organization) is no admin.
        """
        if not user:
            return False
        known = self._admins.get((team, user))
        if known is None or time.monotonic() - known[1] > ADMIN_SECONDS:
            try:
                admin = bool((await client.users_info(user=user)).get("user", {}).get("is_admin"))
            except SlackApiError:
                admin = False
            known = self._admins[(team, user)] = (admin, time.monotonic())
        return known[0]
