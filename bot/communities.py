"""Communities: the model each message belongs to, one engine per model over the shared base,
and each channel's listening switch and reply chance.

``BOT_MODEL_SCOPE=server`` gives every Discord guild and Slack workspace its own model
(``discord:<guild>``, ``slack:<team>``), ``channel`` every channel, ``global`` one model for
all. Discord DMs and the console belong to no server: they talk to the base model.
"""

from __future__ import annotations

from dataclasses import replace

from bot.events import Message
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from dbslm.store.community import ChannelState, CommunityStore


class Communities:
    def __init__(self, base: DBSLMEngine, settings: BotSettings) -> None:
        self.base = base
        self.settings = settings
        self.rows = CommunityStore(base.store.db)
        self._engines: dict[str, DBSLMEngine] = {}
        self._channels: dict[tuple[str, str], ChannelState] = {}

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
        engine = self._engines.get(name)
        if engine is None:
            engine = self.base if name == self.base.model_name else DBSLMEngine(
                self.base.store, name, embedder=self.base.embedder_model, base=self.base,
                base_weight=self.settings.base_weight)
            engine.set_banned(await self.rows.banned_words(await engine.model_id(), self.settings.banned_words))
            self._engines[name] = engine
        return engine

    async def forget_user(self, user_key: str) -> dict[str, int]:
        """Forget a user everywhere: their Level 2 rows, and their messages unlearned from
        every model that learned them."""
        removed = await self.base.forget_user(user_key)
        for name in await self.rows.models_learned_from(user_key):
            more = await (await self.engine_named(name)).forget_user(user_key, only_this_model=True)
            removed["learned"] += more["learned"]
        return removed

    async def channel(self, engine: DBSLMEngine, message: Message) -> ChannelState:
        """The listening switch and reply chance of the message's channel (threads share it)."""
        key = (engine.model_name, channel_of(message))
        if key not in self._channels:
            self._channels[key] = await self.rows.channel(await engine.model_id(), key[1])
        return self._channels[key]

    async def update_channel(self, engine: DBSLMEngine, message: Message, **changes: object) -> ChannelState:
        state = replace(await self.channel(engine, message), **changes)
        await self.rows.save_channel(await engine.model_id(), channel_of(message), state)
        self._channels[(engine.model_name, channel_of(message))] = state
        return state

    async def ban(self, engine: DBSLMEngine, words: list[str], banned: bool) -> frozenset[str]:
        """Ban (or lift the ban on) ``words`` in the engine's community; returns the new list."""
        model_id = await engine.model_id()
        await self.rows.set_banned(model_id, words, banned)
        now = await self.rows.banned_words(model_id, self.settings.banned_words)
        engine.set_banned(now)
        return now


def channel_of(message: Message) -> str:
    """The channel a message is in, without its thread: where settings such as listening live."""
    return ":".join((message.platform, message.workspace, message.channel))
