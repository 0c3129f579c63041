"""Listening: messages in listened channels, learned in batches in the background (and
messages deleted on the platform subtracted with the next batch).

A message is queued in the database at once (so a restart loses none) and learned with its
batch: when a community has ``batch`` messages waiting, or ``seconds`` after the first one
came. One build per batch, never per message, and never in the way of a reply. What is never
learned: bots (the bot itself included), commands, users who opted out, banned words.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.events import Message
from dbslm.engine import DBSLMEngine
from dbslm.store.community import LearnedMessage
from dbslm.text.valid import repaired

log = logging.getLogger(__name__)
WORDS = re.compile(r"\w+")
# Mentions of people, channels and everyone (<@U1>, <@!1>, <#C1>, <!here>, @everyone): never
# learned, so that no reply can ping anybody.
MENTIONS = re.compile(r"<[@#!][^>\s]*>|@(?:everyone|here|channel)\b")


def unpinging(text: str) -> str:
    """``text`` without mentions of people, channels or everyone: a reply that copies what
    someone wrote (a correction, a taught answer, their own turn) pings nobody. Nothing is
    left of a reply that was only mentions: it is not sent."""
    return MENTIONS.sub("", text).strip() if "<" in text or "@" in text else text


def learnable_row(message: Message, opted_out: frozenset[str], banned: frozenset[str]) -> LearnedMessage | None:
    """What is kept of a listened channel's message to learn (its text without mentions,
    under its platform id), or None when it may not be learned."""
    if message.from_bot or message.message_id is None or message.user_key in opted_out:
        return None
    text = repaired(message.text)
    text = " ".join((MENTIONS.sub(" ", text) if "<" in text or "@" in text else text).split())
    if not text or text.startswith("/"):
        return None
    lower = text.lower()
    if banned and _any_banned(banned).search(lower) and banned & set(WORDS.findall(lower)):
        return None
    return LearnedMessage(message_key(message), message.user_key, message.channel_key, text)


@lru_cache(maxsize=64)
def _any_banned(banned: frozenset[str]) -> re.Pattern[str]:
    """Finds the banned words anywhere (inside other words too): a quick first test."""
    return re.compile("|".join(map(re.escape, sorted(banned))))


@dataclass
class _Community:
    engine: DBSLMEngine
    waiting: int = 0
    timer: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)  # batches being learned (one build at a time)


class Learner:
    def __init__(self, batch: int, seconds: float) -> None:
        self.batch = batch
        self.seconds = seconds
        self._communities: dict[str, _Community] = {}

    async def add(self, engine: DBSLMEngine, row: LearnedMessage) -> None:
        """Queue a listened message of ``engine``'s community; its batch is learned soon."""
        community = self._community(engine)
        community.waiting += await engine.learning.queue(await engine.model_id(), [row])
        if community.waiting >= self.batch:
            self._learn(community)
        elif community.waiting and community.timer is None:
            community.timer = asyncio.get_running_loop().call_later(self.seconds, self._learn, community)

    def learn_soon(self, engine: DBSLMEngine) -> None:
        """Learn what the engine's community has queued, now (in the background)."""
        self._learn(self._community(engine))

    def schedule(self, engine: DBSLMEngine) -> None:
        """Run the community's next batch within the batch interval (deleted messages to subtract)."""
        community = self._community(engine)
        if community.timer is None:
            community.timer = asyncio.get_running_loop().call_later(self.seconds, self._learn, community)

    def _community(self, engine: DBSLMEngine) -> _Community:
        if engine.model_name not in self._communities:
            self._communities[engine.model_name] = _Community(engine)
        return self._communities[engine.model_name]

    def _learn(self, community: _Community) -> None:
        if community.timer is not None:
            community.timer.cancel()
            community.timer = None
        community.waiting = 0
        task = asyncio.create_task(self._run(community.engine))
        community.tasks.add(task)
        task.add_done_callback(community.tasks.discard)

    @staticmethod
    async def _run(engine: DBSLMEngine) -> None:
        try:  # ChannelLearning builds one batch at a time per model
            await engine.learning.forget_marked(await engine.model_id())
            report = await engine.learning.learn_pending(await engine.model_id())
        except Exception:  # a background task: log it; the messages stay queued for the next batch
            log.exception("learning a batch of %s failed", engine.model_name)
            return
        if report is not None:
            log.info("learned %s sentences (%s tokens) into %s in %.2f s", report.sentences, report.tokens,
                     engine.model_name, report.seconds)

    async def close(self) -> None:
        """Learn what is waiting and let running batches finish (shutdown)."""
        for community in self._communities.values():
            if community.waiting or community.timer is not None:
                self._learn(community)
        await asyncio.gather(*(t for c in self._communities.values() for t in c.tasks), return_exceptions=True)


def message_key(message: Message) -> str:
    """How the learned table names a platform message."""
    return ":".join((message.platform, message.workspace, message.channel, message.message_id or ""))
