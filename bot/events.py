"""Platform-neutral events: what an adapter hands the bot core, and nothing platform-specific."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


@dataclass(frozen=True)
class Message:
    """One incoming message. ``user`` and ``workspace`` are the platform's own ids."""

    platform: str
    workspace: str
    channel: str
    user: str
    text: str
    thread: str | None = None
    is_dm: bool = False
    mentions_bot: bool = False
    from_bot: bool = False  # the bot itself or another bot
    is_admin: bool = False  # the platform says so (Manage Server, workspace admin)
    attachments: tuple[Attachment, ...] = field(default=())
    message_id: str | None = None  # the platform's id of the message (to unlearn it when deleted)
    sent_at: float | None = None  # when the platform says it was sent (epoch seconds)
    reply_to: str | None = None  # the id of the message it answers (a reply reference, a thread's parent)
    replied: Message | None = None  # that message itself, where the platform sends it along
    # Reads the channel's history a page at a time (dbslm.listening.backfill.HistoryReader), where the
    # platform can: what /train history uses.
    history: Callable[[str | None], Awaitable[object]] | None = field(default=None, compare=False, repr=False)
    # A command's arguments as the platform typed them (a Discord slash command's options, by
    # name; see bot.registry); None: the core parses them from the text.
    arguments: Mapping[str, Any] | None = None

    @property
    def user_key(self) -> str:
        """The user, qualified by platform: how BOT_ADMINS and the logs name them."""
        return f"{self.platform}:{self.user}"

    @property
    def channel_key(self) -> str:
        """The conversation this message belongs to: a channel, a thread, or a DM."""
        return ":".join((self.platform, self.workspace, self.channel, self.thread or ""))


class Send(Protocol):
    """Post a reply where the command or message came from (to its caller alone if private)."""

    async def __call__(self, text: str, *, private: bool = False) -> None: ...
