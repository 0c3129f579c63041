"""Discord messages as the core's platform-neutral ``Message``s, and a channel's history as pages."""

from __future__ import annotations

import re

import discord

from bot.events import Message
from dbslm.listening.backfill import BackfillError, HistoryPage, HistoryReader

PLATFORM = "discord"
PAGE = 100  # the most messages Discord returns per history request


def event(guild_id: int | None, channel_id: int, user_id: int | str | None, text: str, **fields: object) -> Message:
    """A core message from Discord ids; no guild means a DM."""
    return Message(
        PLATFORM,
        str(guild_id) if guild_id else "dm",
        str(channel_id),
        str(user_id or ""),
        text,
        is_dm=not guild_id,
        **fields,
    )


def without_own_mention(text: str, me: discord.abc.Snowflake) -> str:
    """``text`` without the bot's own mentions; other users' mentions (``<@123>``) stay."""
    return re.sub(rf"<@!?{me.id}>\s*", "", text).strip()


def from_message(message: discord.Message, me: discord.abc.Snowflake, **fields: object) -> Message:
    """The core's view of a Discord message: ids, text without the bot's mention, who sent it
    and when, whether the author manages this message's server (Manage Server), and the
    message it replies to (Discord sends it along with the reply)."""
    author = message.author
    is_admin = isinstance(author, discord.Member) and author.guild_permissions.manage_guild
    reference = message.reference if message.type == discord.MessageType.reply else None
    replied = reference.resolved if reference is not None else None
    return event(
        message.guild.id if message.guild else None,
        message.channel.id,
        author.id,
        without_own_mention(message.content, me),
        message_id=str(message.id),
        mentions_bot=any(u.id == me.id for u in message.mentions),
        from_bot=author.bot or author.id == me.id,
        is_admin=is_admin,
        sent_at=message.created_at.timestamp(),
        reply_to=str(reference.message_id) if reference is not None and reference.message_id else None,
        replied=from_message(replied, me) if isinstance(replied, discord.Message) else None,
        **fields,
    )


def history_reader(channel: discord.abc.Messageable, me: discord.abc.Snowflake) -> HistoryReader:
    """Reads ``channel``'s past messages a page at a time, newest first; the cursor is the oldest
    message id of a page (None after a short page). discord.py waits out rate limits itself;
    a refusal (no access, unknown channel) becomes a BackfillError with Discord's reason."""

    async def read(cursor: str | None) -> HistoryPage:
        before = discord.Object(int(cursor)) if cursor else None
        try:
            page = [m async for m in channel.history(limit=PAGE, before=before)]
        except discord.HTTPException as exc:
            raise BackfillError(exc.text or f"Discord answered {exc.status}") from None
        return HistoryPage(
            [from_message(m, me) for m in page if not m.is_system()], str(page[-1].id) if len(page) == PAGE else None
        )

    return read
