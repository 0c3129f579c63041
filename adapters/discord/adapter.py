"""The Discord client, its two ways in (messages and slash commands) and ``serve``."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Mapping, Sequence

import discord
from discord import app_commands

from adapters.discord.slash import add_commands
from bot.core import BotCore
from bot.errors import BotError
from bot.events import Attachment, Message

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
MENTION = re.compile(r"<@!?\d+>\s*")


class UploadTooLarge(Exception):
    """An attachment over the core's upload limit; the message is the reply."""


class BotClient(discord.Client):
    """discord.py's client with the message-content intent and a command tree synced at login."""

    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        """Publish the application commands globally (at every login, so changes take effect)."""
        await self.tree.sync()


class DiscordAdapter:
    """Hands DMs, mentions, typed commands and slash commands to the core; posts its replies."""

    def __init__(self, core: BotCore) -> None:
        self.core = core
        self.client = BotClient()
        self.client.event(self.on_message)
        add_commands(self.client.tree, self.on_command)

    async def on_message(self, message: discord.Message) -> None:
        """Answer a message (a DM, a mention or a typed command) in its channel, typing meanwhile."""
        me = self.client.user
        if me is None or message.author.id == me.id:
            return
        text = MENTION.sub("", message.content).strip()
        command = text.startswith("/") and not message.author.bot
        try:  # only commands (/train) use files: other messages' are not downloaded
            attachments = await self.uploads(message.attachments if command else ())
        except UploadTooLarge as exc:
            await message.channel.send(str(exc))
            return
        member = message.author if isinstance(message.author, discord.Member) else None
        event = _event(message.guild.id if message.guild else None, message.channel.id, message.author, text,
                       mentions_bot=any(u.id == me.id for u in message.mentions),
                       is_admin=bool(member and member.guild_permissions.manage_guild), attachments=attachments)

        async def send(reply: str, *, private: bool = False) -> None:
            await message.channel.send(reply)

        async with message.channel.typing():
            await self.core.handle(event, send, MESSAGE_LIMIT)

    async def on_command(self, interaction: discord.Interaction, text: str, file: discord.Attachment | None) -> None:
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
        event = _event(interaction.guild_id, interaction.channel_id or 0, interaction.user, text,
                       is_admin=interaction.permissions.manage_guild, attachments=attachments)
        await self.core.handle(event, send, MESSAGE_LIMIT)

    async def uploads(self, attachments: Sequence[discord.Attachment]) -> tuple[Attachment, ...]:
        """The attachments' contents; UploadTooLarge, before anything is downloaded, if one is
        over the core's upload limit."""
        limit = self.core.settings.max_upload_mb
        for attachment in attachments:
            if attachment.size > limit * 2**20:
                raise UploadTooLarge(f"{attachment.filename} is larger than the {limit:g} MB limit.")
        return tuple([Attachment(a.filename, await a.read()) for a in attachments])


def _event(guild_id: int | None, channel_id: int, author: discord.abc.User, text: str, *,
           mentions_bot: bool = False, is_admin: bool, attachments: tuple[Attachment, ...]) -> Message:
    return Message(PLATFORM, str(guild_id) if guild_id else "dm", str(channel_id), str(author.id), text,
                   is_dm=guild_id is None, mentions_bot=mentions_bot, from_bot=author.bot, is_admin=is_admin,
                   attachments=attachments)


async def serve(core: BotCore, stop: asyncio.Event, env: Mapping[str, str]) -> None:
    """Log in with ``env["DISCORD_TOKEN"]``, publish the slash commands and answer until ``stop``.

    A missing or refused token, or a refused intent, is a BotError naming the setting, never its value.
    """
    token = env.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise BotError("DISCORD_TOKEN is not set")
    client = DiscordAdapter(core).client
    try:
        try:
            await client.login(token)
        except discord.LoginFailure:
            raise BotError("DISCORD_TOKEN was refused by Discord (improper token)") from None
        except (discord.HTTPException, OSError) as exc:
            raise BotError(f"cannot reach Discord to log in with DISCORD_TOKEN: {type(exc).__name__}") from None
        connection = asyncio.create_task(client.connect())
        stopping = asyncio.create_task(stop.wait())
        print("the bot is connected to Discord (SIGTERM stops it)", file=sys.stderr)
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        await client.close()
        try:
            await connection
        except discord.PrivilegedIntentsRequired:
            raise BotError("Discord refused the message content intent: enable it for the bot in the "
                           "Developer Portal") from None
    finally:
        await client.close()
        await core.close()
