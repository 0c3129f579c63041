"""Platform-neutral events: what an adapter hands the bot core, and nothing platform-specific."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def user_key(self) -> str:
        """The user, qualified by platform: how BOT_ADMINS and the logs name them."""
        return f"{self.platform}:{self.user}"

    @property
    def channel_key(self) -> str:
        """The conversation this message belongs to: a channel, a thread, or a DM."""
        return ":".join((self.platform, self.workspace, self.channel, self.thread or ""))
