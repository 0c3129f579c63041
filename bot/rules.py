"""The bot's listening rules: what may be learned of a channel's message, and what a reply
may not carry. Never learned: bots (the bot itself included), commands, users who opted out,
banned words; never said: mentions, so that no reply can ping anybody.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.events import Message
from dbslm.domain import ChannelMessage
from dbslm.listening.pairing import Heard
from dbslm.text.valid import repaired

WORDS = re.compile(r"\w+")
# Mentions of people, channels and everyone (<@U1>, <@!1>, <#C1>, <!here>, @everyone): never
# learned, so that no reply can ping anybody.
MENTIONS = re.compile(r"<[@#!][^>\s]*>|@(?:everyone|here|channel)\b")


def unpinging(text: str) -> str:
    """``text`` without mentions of people, channels or everyone: a reply that copies what
    someone wrote (a correction, a taught answer, their own turn) pings nobody. Nothing is
    left of a reply that was only mentions: it is not sent."""
    return MENTIONS.sub("", text).strip() if "<" in text or "@" in text else text


def learnable_text(message: Message, opted_out: frozenset[str], banned: frozenset[str]) -> str | None:
    """What is kept of a listened channel's message to learn (its text without mentions), or
    None when it may not be learned."""
    if message.from_bot or message.message_id is None or message.user_key in opted_out:
        return None
    text = repaired(message.text)
    text = " ".join((MENTIONS.sub(" ", text) if "<" in text or "@" in text else text).split())
    if not text or text.startswith("/"):
        return None
    lower = text.lower()
    if banned and _any_banned(banned).search(lower) and banned & set(WORDS.findall(lower)):
        return None
    return text


@lru_cache(maxsize=64)
def _any_banned(banned: frozenset[str]) -> re.Pattern[str]:
    """Finds the banned words anywhere (inside other words too): a quick first test."""
    return re.compile("|".join(map(re.escape, sorted(banned))))


def message_key(message: Message) -> str:
    """How the learning queue names a platform message."""
    return ":".join((message.platform, message.workspace, message.channel, message.message_id or ""))


def heard(message: Message, opted_out: frozenset[str], banned: frozenset[str]) -> Heard:
    """``message`` as listening takes it: what may be learned of it (and of the message it
    replies to, where the platform sent that along), under the rules."""
    key, conversation = message_key(message), message.channel_key
    text = learnable_text(message, opted_out, banned)
    row = ChannelMessage(key, message.user_key, conversation, text) if text is not None else None
    replied = heard(message.replied, opted_out, banned) if message.replied is not None else None
    reply_to = (
        None
        if message.reply_to is None
        else ":".join((message.platform, message.workspace, message.channel, message.reply_to))
    )
    return Heard(key, conversation, row, message.sent_at, replied, reply_to)
