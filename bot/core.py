"""The bot core: which messages to answer, in which conversation, in what order, how often."""

from __future__ import annotations

import asyncio

from bot.commands import Commands, Send
from bot.events import Message
from bot.limits import RateLimiter
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine

SLOW_DOWN = "You are sending messages faster than I can answer; please wait a moment."


class BotCore:
    """Routes platform-neutral messages to commands or to the engine.

    Replies run concurrently across channels and in order within one; each channel, thread
    and DM is its own conversation, found again after a restart. Admins are not rate-limited.
    """

    def __init__(self, engine: DBSLMEngine, settings: BotSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.commands = Commands(engine, settings, self.conversation_for)
        self._locks: dict[str, asyncio.Lock] = {}
        self._users = RateLimiter(settings.user_rate, settings.rate_window)
        self._channels = RateLimiter(settings.channel_rate, settings.rate_window)

    async def handle(self, message: Message, send: Send, limit: int = 2000) -> None:
        """Answer ``message`` through ``send``, split into parts of at most ``limit`` characters."""
        if message.from_bot or not (message.is_dm or message.mentions_bot or message.text.startswith("/")):
            return

        async def send_parts(text: str, *, private: bool = False) -> None:
            for part in split_message(text, limit):
                await send(part, private=private)

        async with self._locks.setdefault(message.channel_key, asyncio.Lock()):
            if not self.commands.is_admin(message) and not (
                    self._users.allow(message.user_key) and self._channels.allow(message.channel_key)):
                await send_parts(SLOW_DOWN, private=True)
                return
            if message.text.lstrip().startswith("/"):
                await self.commands.run(message, send_parts)
                return
            conversation = await self.conversation_for(message)
            reply = await self.engine.respond(conversation, message.text, user_id=message.user_key)
            await send_parts(reply.text)

    async def conversation_for(self, message: Message) -> int:
        """The conversation of the message's channel (thread, DM), started on first use."""
        return await self.engine.conversation_for_channel(message.channel_key, message.user_key)


def split_message(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, cut at line breaks or spaces where possible."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > 0 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts + ([text] if text else [])
