"""The bot core: which messages to answer (and learn), in which community and conversation,
in what order, how often."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import replace

from bot.commands import Commands
from bot.communities import Communities, channel_of
from bot.events import Message, Send
from bot.limits import RateLimiter
from bot.rules import heard, message_key, unpinging
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from dbslm.listening.listener import Listener
from dbslm.telemetry import metrics
from dbslm.text.valid import repaired

HEALTH_SECONDS = 2.0
NOTHING_SAID = "Say something with your message and I will answer it (/help lists my commands)."
SLOW_DOWN = "You are sending messages faster than I can answer; please wait a moment."


class BotCore:
    """Routes platform-neutral messages to commands or to their community's engine.

    Answers DMs, mentions and commands always, other channel messages with the channel's
    reply chance; learns the messages of listened channels. Replies run concurrently across
    channels and in order within one; each channel, thread and DM is its own conversation,
    found again after a restart. Admins are not rate-limited.
    """

    def __init__(self, engine: DBSLMEngine, settings: BotSettings) -> None:
        """``engine`` is the base model's: communities get their own engines over it."""
        self.engine = engine
        self.settings = settings
        self.communities = Communities(engine, settings)
        self.listener = Listener(settings.listen_batch, settings.listen_seconds)
        self.commands = Commands(self.communities, self.listener, settings, self.conversation_for)
        self._chance = random.Random(settings.chance_seed)
        self._locks: dict[str, asyncio.Lock] = {}
        self._users = RateLimiter(settings.user_rate, settings.rate_window)
        self._channels = RateLimiter(settings.channel_rate, settings.rate_window)
        self.metrics = metrics()

    async def handle(self, message: Message, send: Send, limit: int = 2000) -> None:
        """Answer ``message`` through ``send``, split into parts of at most ``limit`` characters.

        A text starting with ``/`` is a command in a DM, in a mention, or when it names one;
        elsewhere it is neither answered nor learned. A message answered only by the reply
        chance is dropped quietly when the rate limits say so. Counted in :mod:`dbslm.telemetry`."""
        started = time.perf_counter()
        self.metrics.messages.labels(message.platform).inc()
        try:
            kind = await self._handle(message, send, limit)
        except Exception:
            self.metrics.errors.labels("message").inc()
            raise
        if kind is not None:
            self.metrics.answers.labels(kind).inc()
            self.metrics.answer_seconds.labels(kind).observe(time.perf_counter() - started)

    async def _handle(self, message: Message, send: Send, limit: int) -> str | None:
        """:meth:`handle`; what was sent: a reply, a command's answer, a refusal, or None."""
        if message.from_bot:
            self.listener.unanswerable(message.channel_key, message.sent_at)  # no one answers a bot here
            return None
        message = replace(message, text=repaired(message.text))  # text any table can hold
        text = message.text.lstrip()
        command = text.startswith("/") and (
            message.is_dm or message.mentions_bot or text.split(maxsplit=1)[0].lower() in self.commands.handlers
        )
        addressed = message.is_dm or message.mentions_bot or command
        if not message.is_dm:
            async with self._lock(channel_of(message)):  # learning in arrival order, with deletes and edits
                engine = await self.communities.engine(message)
                state = await self.communities.channel(engine, message)
                if state.listening:
                    opted_out = await self.communities.opted_out(engine)
                    heard_now = heard(message, opted_out, engine.banned_words)
                    await self.listener.observe(engine.learning, heard_now, opted_out)
            addressed = addressed or bool(state.chance and self._chance.random() < state.chance)
        if not addressed:
            return None

        async def send_parts(reply: str, *, private: bool = False) -> None:
            for part in split_message(reply, limit):
                await send(part, private=private)

        async with self._lock(message.channel_key):  # replies in order within a conversation
            if not self.commands.is_admin(message) and not (
                self._users.allow(message.user_key) and self._channels.allow(message.channel_key)
            ):
                if message.is_dm or message.mentions_bot or command:
                    await send_parts(SLOW_DOWN, private=True)
                    return "refusal"
                return None
            if command:
                await self.commands.run(message, send_parts)
                return "command"
            if not text:  # a bare mention, or a file without words: nothing to answer
                if not (message.is_dm or message.mentions_bot):
                    return None
                await send_parts(NOTHING_SAID)
                return "reply"
            engine = await self.communities.engine(message)
            reply = await engine.respond_in_channel(message.channel_key, message.text, message.user_key)
            await send_parts(unpinging(reply.text))
            self.listener.unanswerable(message.channel_key)  # what comes next answers the bot
            return "reply"

    async def message_deleted(self, message: Message) -> None:
        """A message was deleted on the platform: never learned from now on, and subtracted
        from the model with the community's next batch."""
        if message.message_id is None or message.is_dm:
            return
        async with self._lock(channel_of(message)):
            engine = await self.communities.engine(message)
            await self.listener.deleted(engine.learning, message_key(message))

    async def message_edited(self, message: Message) -> None:
        """A message was edited: its old text unlearned and the new one learned where the
        listening rules allow (see :meth:`Listener.edited`)."""
        if message.message_id is None or message.is_dm or message.from_bot:
            return
        message = replace(message, text=repaired(message.text))
        engine = await self.communities.engine(message)
        async with self._lock(channel_of(message)):
            listening = (await self.communities.channel(engine, message)).listening
            edited = heard(message, await self.communities.opted_out(engine), engine.banned_words)
            await self.listener.edited(engine.learning, edited, listening)

    def is_admin(self, message: Message) -> bool:
        """Whether the message's author may run admin commands (the platform says so, or BOT_ADMINS)."""
        return self.commands.is_admin(message)

    @property
    def max_upload_mb(self) -> float:
        """The largest /train upload, which adapters refuse before downloading it."""
        return self.settings.max_upload_mb

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def start(self) -> None:
        """Call once at start: learn what a previous run queued but did not learn, and load the
        model, so that the first reply does not wait for it."""
        for engine in await self.communities.waiting():
            self.listener.resume(engine.learning)
        await self.engine.replier.load()

    async def conversation_for(self, message: Message) -> int:
        """The conversation of the message's channel (thread, DM), started on first use."""
        engine = await self.communities.engine(message)
        return await engine.conversation_for_channel(message.channel_key, message.user_key)

    async def health(self) -> str | None:
        """Why the bot cannot serve now (its database does not answer within
        :data:`HEALTH_SECONDS`), or None when it can; refreshes the queue gauge."""
        try:
            self.metrics.queued.set(await asyncio.wait_for(self.communities.queue.waiting(), HEALTH_SECONDS))
        except TimeoutError:
            return f"the database did not answer within {HEALTH_SECONDS:g} s"
        except Exception as exc:  # noqa: BLE001 - whatever fails, the bot cannot serve: say what
            return f"the database does not answer: {type(exc).__name__}: {exc}"
        return None

    async def close(self) -> None:
        """Shutdown: finish trainings, stop backfills (they resume later), learn what waits."""
        await self.commands.wait_for_training(stop_backfills=True)
        await self.listener.close()


def split_message(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters, cut at line breaks or spaces where possible."""
    parts = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > 0 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts + ([text] if text else [])
