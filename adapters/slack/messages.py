"""Slack message objects (from events and from conversations.history) as bot messages.

The bot's own mention is taken out of the text; other users' mentions stay, in the ``<@U123>``
form (``<@U123|name>``, as slash commands escape them, loses its name) so ``/forget <@U123>``
names its member. A bot's message (``bot_id``, subtype ``bot_message``, or the bot user itself)
is marked ``from_bot``; a message without content of its own (someone joined, a topic changed)
gets no text, so it is never learned.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Message
from dbslm.listening.backfill import BackfillError, HistoryPage, HistoryReader

PLATFORM = "slack"
# Subtypes whose text is something a person (or bot) said; any other subtype is an event.
CONTENT_SUBTYPES = (None, "file_share", "thread_broadcast", "me_message", "bot_message")
USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
HISTORY_PAGE = 200  # messages per conversations.history call (Slack's recommended maximum)
REFUSALS = {
    "not_in_channel": "I am not a member of this channel; invite me to it first",
    "channel_not_found": "Slack does not show me this channel (a private channel I was not invited to?)",
    "missing_scope": "the Slack app lacks the channels:history (or groups:history) scope; reinstall it with it",
    "ratelimited": "Slack kept rate-limiting me; try again in a few minutes",
}


def slack_text(text: str, bot_user: str | None) -> tuple[str, bool]:
    """The text without the bot's own mention, other mentions as ``<@U123>``; and whether the bot
    was mentioned."""
    mentioned = False

    def mention(match: re.Match[str]) -> str:
        nonlocal mentioned
        if match.group(1) == bot_user:
            mentioned = True
            return ""
        return f"<@{match.group(1)}>"

    return re.sub(r"\s{2,}", " ", USER_MENTION.sub(mention, text)).strip(), mentioned


def incoming(event: dict[str, Any], team: str, channel: str, bot_user: str | None, **flags: Any) -> Message:
    """The bot message of a Slack message object; ``flags`` sets Message fields such as ``is_dm``."""
    user = event.get("user", "")
    text, mentioned = slack_text(event.get("text", "") if event.get("subtype") in CONTENT_SUBTYPES else "", bot_user)
    from_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message" or (bool(user) and user == bot_user)
    ts, thread = event.get("ts"), event.get("thread_ts")
    return Message(
        PLATFORM,
        team,
        channel,
        user,
        text,
        thread=thread,
        mentions_bot=mentioned,
        from_bot=from_bot,
        message_id=ts,
        sent_at=_seconds(ts),
        reply_to=thread if thread and thread != ts else None,
        **flags,
    )


def _seconds(ts: str | None) -> float | None:
    """A Slack timestamp ("1700000000.000100") as epoch seconds; None when it is not one."""
    try:
        return float(ts) if ts else None
    except ValueError:
        return None


def history_reader(client: AsyncWebClient, team: str, channel: str, bot_user: str | None) -> HistoryReader:
    """Reads the channel's history a page at a time, newest first (what ``/train history`` uses).

    A 429 is waited out by the client's rate-limit retry handler; a refusal (not in the channel,
    no such channel, a missing scope) becomes a :class:`BackfillError` with a one-line reason.
    """

    async def read(cursor: str | None) -> HistoryPage:
        try:
            response = await client.conversations_history(channel=channel, cursor=cursor, limit=HISTORY_PAGE)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            raise BackfillError(REFUSALS.get(error, f"Slack refused it ({error})")) from None
        messages = [incoming(m, team, channel, bot_user) for m in response.get("messages", [])]
        return HistoryPage(messages, (response.get("response_metadata") or {}).get("next_cursor") or None)

    return read
