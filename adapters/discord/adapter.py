"""The Discord client, its ways in (messages, edits, deletions and slash commands) and ``serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord.messages import event, from_message, history_reader, without_own_mention
from adapters.discord.slash import add_commands
from bot.core import BotCore
from bot.errors import BotError
from bot.events import Attachment
from bot.registry import Command
from bot.uploads import size_refusal
from dbslm.listening.backfill import HistoryReader

log = logging.getLogger(__name__)
MESSAGE_LIMIT = 2000
# what the bot does in a channel, and nothing more: it reads messages (view channels), answers in
# channels and threads (send messages in either; typing needs no more), and reads a channel's past
# messages for /train history (read message history). It sends no files, embeds or reactions.
PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, send_messages_in_threads=True, read_message_history=True
)
SCOPES = ("bot", "applications.commands")  # the bot user, and its slash commands


class UploadTooLarge(Exception):
    """An attachment over the core's upload limit; the message is the reply."""


class BotClient(discord.AutoShardedClient):
    """discord.py's sharded client with the message-content intent and a command tree synced at
    login. Replies ping nobody: a reply may repeat a mention it was trained on (an uploaded text, say).

    It runs the shards ``shard_ids`` of ``shard_count`` (all of them by default); without a
    ``shard_count``, as many as Discord recommends (GET /gateway/bot).

    ``api_url`` is another base URL of Discord's REST API (``https://discord.com/api/v10`` by
    default): a Discord-compatible server, or a test's fake Discord. The client then connects to
    the gateway that server names (GET /gateway/bot, where Discord tells bots theirs).
    """

    def __init__(
        self, api_url: str | None = None, shard_count: int | None = None, shard_ids: list[int] | None = None
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=shard_count,
            shard_ids=shard_ids,
        )
        self.tree = app_commands.CommandTree(self)
        self.api_url = api_url.rstrip("/") if api_url else None

    async def login(self, token: str) -> None:
        """Log in, at ``api_url`` when it is set, and learn its gateway.

        discord.py has no option for either address: it keeps them in class attributes, so they
        are set there, for the whole process (one Discord client a process, as ``serve`` makes).
        """
        if self.api_url:
            discord.http.Route.BASE = self.api_url
        await super().login(token)
        if self.api_url:
            _, gateway, _ = await self.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)

    async def setup_hook(self) -> None:
        """Publish the application commands globally (at every login, so changes take effect)."""
        await self.tree.sync()

    def invite_url(self) -> str:
        """The link that adds the bot to a server with its slash commands and exactly the
        permissions it uses (known once logged in)."""
        assert self.application_id is not None, "not logged in"
        return discord.utils.oauth_url(self.application_id, permissions=PERMISSIONS, scopes=SCOPES)


class DiscordAdapter:
    """Hands every message the bot sees, their edits and deletions, and slash commands to the
    core; posts its replies."""

    def __init__(
        self,
        core: BotCore,
        api_url: str | None = None,
        shard_count: int | None = None,
        shard_ids: list[int] | None = None,
    ) -> None:
        self.core = core
        self.client = BotClient(api_url, shard_count, shard_ids)
        for handler in (
            self.on_message,
            self.on_raw_message_delete,
            self.on_raw_bulk_message_delete,
            self.on_raw_message_edit,
        ):
            self.client.event(handler)
        add_commands(self.client.tree, self.on_command)

    @property
    def me(self) -> discord.ClientUser:
        """The bot's own user (known once logged in)."""
        assert self.client.user is not None, "not logged in"
        return self.client.user

    async def on_message(self, message: discord.Message) -> None:
        """Hand a message to the core (it learns and answers as the channel's settings say);
        typing while a DM, a mention or a typed command is answered."""
        if self.client.user is None or message.is_system():
            return
        channel = message.channel
        incoming = from_message(message, self.me, history=self.history(message.guild and message.guild.id, channel))
        command = incoming.text.startswith("/") and not incoming.from_bot
        if command and message.attachments:  # only commands (/train) use files: others' are not downloaded
            try:
                incoming = replace(incoming, attachments=await self.uploads(message.attachments))
            except UploadTooLarge as exc:
                await channel.send(str(exc))
                return

        async def send(reply: str, *, private: bool = False) -> None:
            await channel.send(reply)

        addressed = command or (not incoming.from_bot and (incoming.is_dm or incoming.mentions_bot))
        async with channel.typing() if addressed else contextlib.nullcontext():
            await self.core.handle(incoming, send, MESSAGE_LIMIT)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted message is unlearned (the raw event arrives whether or not it was cached)."""
        author = payload.cached_message.author.id if payload.cached_message else None
        await self.core.message_deleted(
            event(payload.guild_id, payload.channel_id, author, "", message_id=str(payload.message_id))
        )

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Messages removed together (a moderator's purge) are unlearned like single deletes."""
        for message_id in sorted(payload.message_ids):
            await self.core.message_deleted(
                event(payload.guild_id, payload.channel_id, None, "", message_id=str(message_id))
            )

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edited message is relearned with its new text. Updates without content or author
        (embeds unfurled) and those that leave the cached text as it was are not edits."""
        data = payload.data
        content, author = data.get("content"), data.get("author")
        if content is None or author is None or (payload.cached_message and payload.cached_message.content == content):
            return
        await self.core.message_edited(
            event(
                payload.guild_id,
                payload.channel_id,
                author["id"],
                without_own_mention(content, self.me),
                message_id=str(payload.message_id),
                from_bot=bool(author.get("bot")) or author["id"] == str(self.me.id),
            )
        )

    async def on_command(
        self,
        interaction: discord.Interaction,
        command: Command,
        arguments: dict[str, Any],
        file: discord.Attachment | None,
    ) -> None:
        """Answer a slash command: defer at once, then post the core's replies as follow-ups,
        refusals and errors visible to the caller alone."""
        await interaction.response.defer()
        filled = False  # the first follow-up fills the deferred response and keeps its (public) visibility

        async def send(reply: str, *, private: bool = False) -> None:
            nonlocal filled
            first, filled = not filled, True
            if private and first:
                await interaction.delete_original_response()  # so this follow-up can be ephemeral
            await interaction.followup.send(reply, ephemeral=private)

        try:
            attachments = await self.uploads([file] if file else [])
        except UploadTooLarge as exc:
            await send(str(exc), private=True)
            return
        await self.core.handle(
            event(
                interaction.guild_id,
                interaction.channel_id or 0,
                interaction.user.id,
                command.slash,
                arguments=arguments,
                is_admin=interaction.permissions.manage_guild,
                attachments=attachments,
                history=self.history(interaction.guild_id, interaction.channel),
            ),
            send,
            MESSAGE_LIMIT,
        )

    def history(self, guild_id: int | None, channel: object) -> HistoryReader | None:
        """The reader of a server channel's past messages (for /train history); None in DMs."""
        return history_reader(channel, self.me) if guild_id and isinstance(channel, discord.abc.Messageable) else None

    async def uploads(self, attachments: Sequence[discord.Attachment]) -> tuple[Attachment, ...]:
        """The attachments' contents; UploadTooLarge, before anything is downloaded, if one is
        over the core's upload limit."""
        for attachment in attachments:
            refusal = size_refusal(attachment.filename, attachment.size, self.core.max_upload_mb)
            if refusal:
                raise UploadTooLarge(refusal)
        return tuple([Attachment(a.filename, await a.read()) for a in attachments])


def shards(env: Mapping[str, str]) -> tuple[int | None, list[int] | None]:
    """The shard count and this process's shard ids from ``BOT_SHARD_COUNT`` and ``BOT_SHARD_IDS``
    (comma-separated); (None, None), Discord's recommended count and every shard, when neither
    is set. A bad value is a BotError naming the variable."""
    count_text, ids_text = env.get("BOT_SHARD_COUNT", "").strip(), env.get("BOT_SHARD_IDS", "").strip()
    if not count_text:
        if ids_text:
            raise BotError("BOT_SHARD_IDS needs BOT_SHARD_COUNT, the number of shards of all processes")
        return None, None
    if not count_text.isdecimal() or int(count_text) < 1:
        raise BotError(f"BOT_SHARD_COUNT must be a whole number of at least 1, not {count_text!r}")
    count = int(count_text)
    if not ids_text:
        return count, None
    parts = [part.strip() for part in ids_text.split(",")]
    if not all(part.isdecimal() and int(part) < count for part in parts) or len(set(map(int, parts))) < len(parts):
        raise BotError(
            f"BOT_SHARD_IDS must be distinct shard numbers from 0 to {count - 1} separated by commas, not {ids_text!r}"
        )
    return count, [int(part) for part in parts]


async def serve(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Log in with ``env["DISCORD_TOKEN"]``, publish the slash commands, print the invite link
    and answer until ``stop``, on the shards ``BOT_SHARD_COUNT`` and ``BOT_SHARD_IDS`` name (see
    :func:`shards`).

    ``env["DISCORD_API_URL"]``, when set, is another base URL of Discord's REST API (a
    Discord-compatible server, such as a test's fake). A missing or refused token, or a refused
    intent, is a BotError naming the setting, never its value.
    """
    token = env.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise BotError("DISCORD_TOKEN is not set")
    client = DiscordAdapter(core, env.get("DISCORD_API_URL") or None, *shards(env)).client
    try:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise BotError("DISCORD_TOKEN was refused by Discord (improper token)") from None
        except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
            raise BotError(f"cannot reach Discord to log in with DISCORD_TOKEN: {type(exc).__name__}") from None
        connection = asyncio.create_task(client.connect())
        stopping = asyncio.create_task(stop.wait())
        log.info("the bot is connected to Discord (SIGTERM stops it)")
        log.info("invite it to a server with %s", client.invite_url())
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await client.close()
        try:
            await connection
        except discord.PrivilegedIntentsRequired:
            raise BotError(
                "Discord refused the message content intent: enable it for the bot in the Developer Portal"
            ) from None
    finally:
        await client.close()
