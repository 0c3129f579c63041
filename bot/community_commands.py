"""The commands that shape a community: /listen, /chance (admins), /ban (admins), /optout, /optin."""

from __future__ import annotations

from bot.communities import Communities
from bot.events import Message, Send
from bot.registry import BY_NAME
from bot.rules import WORDS


class CommunityCommands:
    def __init__(self, communities: Communities) -> None:
        self.communities = communities

    async def listen(self, message: Message, send: Send, state: str) -> None:
        """``/listen on|off``: learn from this channel's messages, or stop."""
        if message.is_dm:
            await send("I listen in server channels, not in direct messages.", private=True)
            return
        engine = await self.communities.engine(message)
        await self.communities.update_channel(engine, message, listening=state == "on")
        await send(
            "I am listening in this channel now: I learn from its messages (not from bots, commands, "
            "banned words or people who sent /optout)."
            if state == "on"
            else "I stopped listening in this channel; what I learned stays until someone runs /forget."
        )

    async def chance(self, message: Message, send: Send, percent: float) -> None:
        """``/chance <percent>``: how often to answer a message here without being mentioned."""
        if message.is_dm:
            await send("In direct messages I always answer; /chance is for server channels.", private=True)
            return
        engine = await self.communities.engine(message)
        await self.communities.update_channel(engine, message, chance=percent / 100)
        await send(f"In this channel I now answer {percent:g}% of the messages that do not mention me.")

    async def optout(self, message: Message, send: Send) -> None:
        await self._opt(message, send, out=True)

    async def optin(self, message: Message, send: Send) -> None:
        await self._opt(message, send, out=False)

    async def _opt(self, message: Message, send: Send, out: bool) -> None:
        engine = await self.communities.engine(message)
        await self.communities.set_opted_out(engine, message.user_key, out)
        await send(
            "I will not learn from your messages here from now on (/forget also unlearns what I did learn)."
            if out
            else "I may learn from your messages in listened channels again.",
            private=True,
        )

    async def ban(self, message: Message, send: Send, action: str, words: str | None) -> None:
        """``/ban add|remove <words>`` or ``/ban list``: words never learned and never said."""
        listed = sorted({w.lower() for w in WORDS.findall(words or "")})
        engine = await self.communities.engine(message)
        if action == "list":
            banned = await self.communities.banned_words(engine)
            await send(f"{len(banned)} banned words: " + ", ".join(sorted(banned)), private=True)
            return
        if not listed:
            await send(BY_NAME["/ban"].usage, private=True)
            return
        banned = await self.communities.ban(engine, listed, action == "add")
        await send(
            f"{'Banned' if action == 'add' else 'Lifted the ban on'}: {', '.join(listed)}. "
            f"{len(banned)} words are banned here."
        )
