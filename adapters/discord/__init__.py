"""The Discord adapter: discord.py's client with the message-content intent.

DMs and mentions become bot messages; commands are typed as messages (/correct, /history,
/stats, /forget, /train with an attachment, /help). Members with Manage Server are admins of
their server. A typing indicator shows while a reply is generated.
"""

from __future__ import annotations

import asyncio
import re
import sys

import discord

from bot.core import BotCore
from bot.errors import BotError
from bot.events import Attachment, Message

PLATFORM = "discord"
MESSAGE_LIMIT = 2000
MENTION = re.compile(r"<@!?\d+>\s*")


class DiscordAdapter:
    def __init__(self, core: BotCore) -> None:
        self.core = core
        intents = discord.Intents.default()
        intents.message_content = True
        self.client = discord.Client(intents=intents)
        self.client.event(self.on_message)

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if me is None or message.author.id == me.id:
            return
        guild = message.guild
        member = message.author if isinstance(message.author, discord.Member) else None
        attachments = tuple([Attachment(a.filename, await a.read()) for a in message.attachments])
        event = Message(PLATFORM, str(guild.id) if guild else "dm", str(message.channel.id), str(message.author.id),
                        MENTION.sub("", message.content).strip(), is_dm=guild is None,
                        mentions_bot=any(u.id == me.id for u in message.mentions), from_bot=message.author.bot,
                        is_admin=bool(member and member.guild_permissions.manage_guild), attachments=attachments)

        async def send(text: str, *, private: bool = False) -> None:
            await message.channel.send(text)

        async with message.channel.typing():
            await self.core.handle(event, send, MESSAGE_LIMIT)


async def serve(core: BotCore, stop: asyncio.Event, token: str) -> None:
    """Log in with ``token`` and answer until ``stop``."""
    adapter = DiscordAdapter(core)
    try:
        await adapter.client.login(token)
    except discord.LoginFailure:
        raise BotError("DISCORD_TOKEN was refused by Discord (improper token)") from None
    except (discord.HTTPException, OSError) as exc:
        raise BotError(f"cannot reach Discord to check DISCORD_TOKEN: {type(exc).__name__}") from None
    connection = asyncio.create_task(adapter.client.connect())
    print("the bot is connected to Discord (SIGTERM stops it)", file=sys.stderr)
    await asyncio.wait({connection, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    await adapter.client.close()
    connection.cancel()
    await core.commands.wait_for_training()
