"""Communities: the model each message belongs to, one engine per model over the shared base,
and each channel's listening switch and reply chance.

``BOT_MODEL_SCOPE=server`` gives every Discord guild and Slack workspace its own model
(``discord:<guild>``, ``slack:<team>``), ``channel`` every channel, ``global`` one model for
all. Discord DMs and the console belong to no server: they talk to the base model.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.events import Message
from bot.settings import BotSettings
from dbslm.domain import ChannelState
from dbslm.engine import DBSLMEngine


class Communities:
    def __init__(self, base: DBSLMEngine, settings: BotSettings) -> None:
        self.base = base
        self.settings = settings
        self.channels = base.channels
        self.queue = base.learning.heard  # every model's learning queue
        self._engines: dict[str, asyncio.Task[DBSLMEngine]] = {}  # one engine per model, made once
        self._channels: dict[tuple[str, str], ChannelState] = {}
        self._opted_out: dict[str, frozenset[str]] = {}

    def model_name(self, message: Message) -> str:
        """The model ``message`` talks to and teaches."""
        if (
            self.settings.model_scope == "global"
            or message.platform == "console"
            or not message.workspace
            or (message.is_dm and message.workspace == "dm")
        ):
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
        engine = (
            self.base
            if name == self.base.model_name
            else DBSLMEngine(
                self.base.store,
                name,
                embedder=self.base.embedder_model,
                base=self.base,
                base_weight=self.settings.base_weight,
            )
        )
        engine.set_banned(await self.banned_words(engine))
        return engine

    async def waiting(self) -> list[DBSLMEngine]:
        """The engines of the models with messages queued but not learned (after a restart)."""
        return [await self.engine_named(name) for name in await self.queue.models_waiting()]

    async def forget_user(self, user_key: str, here: DBSLMEngine) -> dict[str, int]:
        """Forget a user everywhere: their messages unlearned from every model that learned them,
        the pairs they taught (corrections, uploads) from every model that holds them, then their
        Level 2 rows. They are opted out there and in ``here``'s community, so that neither
        listening nor a history backfill learns them again until they /optin."""
        others = [await self.engine_named(n) for n in await self.queue.models_learned_from(user_key)]
        for engine in {here, *others}:  # first: no process (a shard of another server) queues theirs meanwhile
            await self.set_opted_out(engine, user_key, True)
        return await here.forget_user(user_key, communities=others)

    async def opted_out(self, engine: DBSLMEngine) -> frozenset[str]:
        """The users of the engine's community who opted out of learning, as this process knows
        them (read once; another process, a Discord shard, may opt people out here too: each
        build drops what they queued meanwhile, see ``ChannelLearning``)."""
        if engine.model_name not in self._opted_out:
            self._opted_out[engine.model_name] = await self.channels.opted_out(await engine.model_id())
        return self._opted_out[engine.model_name]

    async def set_opted_out(self, engine: DBSLMEngine, user_key: str, out: bool) -> None:
        await self.channels.set_opted_out(await engine.model_id(), user_key, out)
        self._opted_out.pop(engine.model_name, None)

    async def channel(self, engine: DBSLMEngine, message: Message) -> ChannelState:
        """The listening switch, reply chance and backfill cursor of the message's channel."""
        key = (engine.model_name, channel_of(message))
        if key not in self._channels:
            self._channels[key] = await self.channels.channel(await engine.model_id(), key[1])
        return self._channels[key]

    async def update_channel(self, engine: DBSLMEngine, message: Message, **changes: object) -> ChannelState:
        key = (engine.model_name, channel_of(message))
        state = self._channels[key] = replace(await self.channel(engine, message), **changes)  # before any await
        await self.channels.save_channel(await engine.model_id(), key[1], state)
        return state

    async def ban(self, engine: DBSLMEngine, words: list[str], banned: bool) -> frozenset[str]:
        """Ban (or lift the ban on) ``words`` in the engine's community; returns the new list."""
        model_id = await engine.model_id()
        await self.channels.set_banned(model_id, words, banned)
        now = await self.banned_words(engine)
        engine.set_banned(now)
        return now

    async def banned_words(self, engine: DBSLMEngine) -> frozenset[str]:
        """The words banned in the engine's community."""
        return await self.channels.banned_words(await engine.model_id(), self.settings.banned_words)


def channel_of(message: Message) -> str:
    """The channel a message is in, without its thread: where settings such as listening live."""
    return ":".join((message.platform, message.workspace, message.channel))
