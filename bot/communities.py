"""Communities: the model each message belongs to, one engine per model over the shared base,
and each channel's listening switch and reply chance.

``BOT_MODEL_SCOPE=server`` gives every Discord guild and Slack workspace its own model
(``discord:<guild>``, ``slack:<team>``), ``channel`` every channel, ``global`` one model for
all. Discord DMs and the console belong to no server: they talk to the base model.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import replace

from bot.events import Message
from bot.learner import learnable_row, message_key
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from dbslm.store.community import ChannelState, CommunityStore, LearnedMessage
from dbslm.teaching import unteach

REMEMBERED_DELETIONS = 10_000
ANSWER_SECONDS = 300.0  # a message answers the one before it in its conversation, by someone else, this recent
REMEMBERED_CONVERSATIONS = 10_000  # at most this many conversations' last messages are kept, to pair the next one


class Communities:
    def __init__(self, base: DBSLMEngine, settings: BotSettings) -> None:
        self.base = base
        self.settings = settings
        self.rows = CommunityStore(base.store.db)
        self._engines: dict[str, asyncio.Task[DBSLMEngine]] = {}  # one engine per model, made once
        self._channels: dict[tuple[str, str], ChannelState] = {}
        self._opted_out: dict[str, frozenset[str]] = {}
        self._deleted: OrderedDict[str, None] = OrderedDict()  # recently deleted messages, never learned
        # each conversation's last message (None: one that cannot be a prompt), when it was sent
        # and when it came (monotonic), the one that came longest ago first
        self._last: OrderedDict[str, tuple[LearnedMessage | None, float, float]] = OrderedDict()

    def model_name(self, message: Message) -> str:
        """The model ``message`` talks to and teaches."""
        if self.settings.model_scope == "global" or message.platform == "console" or not message.workspace \
                or (message.is_dm and message.workspace == "dm"):
            return self.base.model_name
        name = f"{message.platform}:{message.workspace}"
        return f"{name}:{message.channel}" if self.settings.model_scope == "channel" else name

    async def engine(self, message: Message) -> DBSLMEngine:
        """The engine of the message's community (created on first use, with its ban list)."""
        return await self.engine_named(self.model_name(message))

    async def engine_named(self, name: str) -> DBSLMEngine:
        if name not in self._engines:
            self._engines[name] = asyncio.ensure_future(self._open(name))
        try:
            return await asyncio.shield(self._engines[name])
        except Exception:
            self._engines.pop(name, None)  # try again next time
            raise

    async def _open(self, name: str) -> DBSLMEngine:
        engine = self.base if name == self.base.model_name else DBSLMEngine(
            self.base.store, name, embedder=self.base.embedder_model, base=self.base,
            base_weight=self.settings.base_weight)
        engine.set_banned(await self.rows.banned_words(await engine.model_id(), self.settings.banned_words))
        return engine

    async def waiting(self) -> list[DBSLMEngine]:
        """The engines of the models with messages queued but not learned (after a restart)."""
        return [await self.engine_named(name) for name in await self.rows.models_waiting()]

    async def forget_user(self, user_key: str, here: DBSLMEngine) -> dict[str, int]:
        """Forget a user everywhere: their messages unlearned from every model that learned them,
        the pairs they taught (corrections, uploads) from every model that holds them, then their
        Level 2 rows. They are opted out there and in ``here``'s community, so that neither
        listening nor a history backfill learns them again until they /optin."""
        learned = 0
        for engine in {here, *[await self.engine_named(n) for n in await self.rows.models_learned_from(user_key)]}:
            learned += await engine.learning.forget_user(await engine.model_id(), user_key)
            await self.set_opted_out(engine, user_key, True)
        taught = await unteach(self.base.store, user_key)
        removed = await self.base.conversations.forget_user(user_key)
        await self.base.store.db.erase_deleted()
        return {**removed, "learned": learned, "taught_pairs": taught}

    async def opted_out(self, engine: DBSLMEngine) -> frozenset[str]:
        """The users of the engine's community who opted out of learning."""
        if engine.model_name not in self._opted_out:
            self._opted_out[engine.model_name] = await self.rows.opted_out(await engine.model_id())
        return self._opted_out[engine.model_name]

    async def set_opted_out(self, engine: DBSLMEngine, user_key: str, out: bool) -> None:
        await self.rows.set_opted_out(await engine.model_id(), user_key, out)
        self._opted_out.pop(engine.model_name, None)

    def deleted(self, message: Message) -> None:
        """Remember that a message was deleted, so that it is never learned afterwards."""
        self._deleted[message_key(message)] = None
        if len(self._deleted) > REMEMBERED_DELETIONS:
            self._deleted.popitem(last=False)

    def learnable(self, message: Message, engine: DBSLMEngine, opted_out: frozenset[str]) -> LearnedMessage | None:
        """What to learn of a listened message, or None (the listening rules, or deleted)."""
        if self._deleted and message.message_id is not None and message_key(message) in self._deleted:
            return None
        return learnable_row(message, opted_out, engine.banned_words)

    def heard(self, conversation: str, row: LearnedMessage | None, at: float | None = None) -> None:
        """Remember the newest message of a conversation (a channel key), for the next message
        to answer: ``row`` is what is learned of it, or None when it can be no prompt (a bot's,
        a command)."""
        now = time.monotonic()
        self._last[conversation] = (row, at or time.time(), now)
        self._last.move_to_end(conversation)
        while self._last and (len(self._last) > REMEMBERED_CONVERSATIONS
                              or next(iter(self._last.values()))[2] < now - ANSWER_SECONDS):
            self._last.popitem(last=False)  # the one heard longest ago: too old to be answered

    async def prompt_for(self, message: Message, engine: DBSLMEngine, opted_out: frozenset[str]
                         ) -> LearnedMessage | None:
        """The message that ``message`` answers, as it is learned: the one it replies to, or the
        conversation's previous message when someone else sent it at most ANSWER_SECONDS before,
        or the thread's first message; None when it answers none that may be learned."""
        previous, at, _ = self._last.get(message.channel_key, (None, None, 0.0))
        prompt = self._answered(message, engine, opted_out, previous, at, message.sent_at or time.time())
        if prompt is None and message.replied is None and message.reply_to is not None:
            replied = replace(message, message_id=message.reply_to)
            prompt = next(iter(await engine.learning.rows.messages(await engine.model_id(),
                                                                   message_key=message_key(replied))), None)
        return _by_someone_else(prompt, message.user_key, opted_out)

    def history_rows(self, page: list[Message], engine: DBSLMEngine, opted_out: frozenset[str]
                     ) -> list[LearnedMessage]:
        """What to learn of a page of a channel's history (newest first): each learnable message
        after the one it replies to, or after the page's next older message when someone else
        sent that one at most ANSWER_SECONDS before."""
        rows = [self.learnable(m, engine, opted_out) for m in page]
        learned = []
        for i, (message, row) in enumerate(zip(page, rows)):
            if row is not None:
                older = (rows[i + 1], page[i + 1].sent_at) if i + 1 < len(page) else (None, None)
                prompt = self._answered(message, engine, opted_out, *older, message.sent_at)
                learned.append(row.answering(_by_someone_else(prompt, row.user_id, opted_out)))
        return learned

    def _answered(self, message: Message, engine: DBSLMEngine, opted_out: frozenset[str],
                  previous: LearnedMessage | None, previous_at: float | None, sent_at: float | None
                  ) -> LearnedMessage | None:
        """What ``message`` (sent at ``sent_at``) answers: the message it replies to, where the
        platform sent it along, else ``previous`` when it was sent at most ANSWER_SECONDS before."""
        if message.replied is not None:
            return self.learnable(message.replied, engine, opted_out)
        if previous is None or previous_at is None or sent_at is None or sent_at - previous_at > ANSWER_SECONDS:
            return None
        return previous

    async def channel(self, engine: DBSLMEngine, message: Message) -> ChannelState:
        """The listening switch, reply chance and backfill cursor of the message's channel."""
        key = (engine.model_name, channel_of(message))
        if key not in self._channels:
            self._channels[key] = await self.rows.channel(await engine.model_id(), key[1])
        return self._channels[key]

    async def update_channel(self, engine: DBSLMEngine, message: Message, **changes: object) -> ChannelState:
        key = (engine.model_name, channel_of(message))
        state = self._channels[key] = replace(await self.channel(engine, message), **changes)  # before any await
        await self.rows.save_channel(await engine.model_id(), key[1], state)
        return state

    async def ban(self, engine: DBSLMEngine, words: list[str], banned: bool) -> frozenset[str]:
        """Ban (or lift the ban on) ``words`` in the engine's community; returns the new list."""
        model_id = await engine.model_id()
        await self.rows.set_banned(model_id, words, banned)
        now = await self.rows.banned_words(model_id, self.settings.banned_words)
        engine.set_banned(now)
        return now


def _by_someone_else(prompt: LearnedMessage | None, user_key: str, opted_out: frozenset[str]
                     ) -> LearnedMessage | None:
    """``prompt`` unless its author is the one answering or opted out: nobody answers themselves."""
    if prompt is None or prompt.user_id == user_key or prompt.user_id in opted_out:
        return None
    return prompt


def channel_of(message: Message) -> str:
    """The channel a message is in, without its thread: where settings such as listening live."""
    return ":".join((message.platform, message.workspace, message.channel))
