"""Which earlier message a channel message answers: the one it replies to, else the previous
message of its conversation when someone else sent it at most :data:`ANSWER_SECONDS` before."""

from __future__ import annotations

import time
from collections.abc import Container
from typing import NamedTuple

from dbslm.domain import ChannelMessage
from dbslm.recent import Recent

ANSWER_SECONDS = 300.0
REMEMBERED_CONVERSATIONS = 10_000  # at most this many conversations' last messages are kept, to pair the next one


class Heard(NamedTuple):
    """A channel message as the bot hands it to listening (a tuple: a backfill makes millions)."""

    key: str  # the platform's message (ChannelMessage.message_key)
    conversation: str  # its channel, thread or DM: where the message before it is looked for
    row: ChannelMessage | None  # what may be learned of it; None: nothing (nor is it anyone's prompt)
    sent_at: float | None = None  # when the platform says it was sent (epoch seconds)
    replied: Heard | None = None  # the message it replies to, where the platform sent it along
    reply_to: str | None = None  # that message's key, where the platform sent only its id


class LastMessages:
    """Each conversation's newest message, to pair the next one with."""

    def __init__(self) -> None:
        # what is learned of it (None: it can be no prompt), when it was sent and when it came
        # (monotonic), the one that came longest ago first
        self._last: Recent[str, tuple[ChannelMessage | None, float, float]] = Recent(REMEMBERED_CONVERSATIONS)

    def heard(self, conversation: str, row: ChannelMessage | None, at: float | None = None) -> None:
        """Remember the newest message of ``conversation``: ``row`` is what is learned of it,
        None when it can be no prompt (a bot's, a command)."""
        now = time.monotonic()
        self._last[conversation] = (row, at or time.time(), now)
        while next(iter(self._last.values()))[2] < now - ANSWER_SECONDS:
            self._last.popitem(last=False)  # the one heard longest ago: too old to be answered

    def before(self, conversation: str) -> tuple[ChannelMessage | None, float | None]:
        """The conversation's newest message (None when it can be no prompt) and when it was sent."""
        row, at, _ = self._last.get(conversation, (None, None, 0.0))
        return row, at


def answered(
    heard: Heard,
    previous: ChannelMessage | None,
    previous_at: float | None,
    sent_at: float | None,
    deleted: Container[str] = (),
) -> ChannelMessage | None:
    """What ``heard`` (sent at ``sent_at``) answers: the message it replies to, where the platform
    sent it along (unless ``deleted``), else ``previous`` (sent at ``previous_at``) when it was
    sent at most ANSWER_SECONDS before it."""
    if heard.replied is not None:
        return learnable(heard.replied, deleted)
    if previous is None or previous_at is None or sent_at is None or sent_at - previous_at > ANSWER_SECONDS:
        return None
    return previous


def learnable(heard: Heard, deleted: Container[str] = ()) -> ChannelMessage | None:
    """What may be learned of ``heard``: nothing once it was deleted."""
    return None if heard.row is None or (deleted and heard.key in deleted) else heard.row


def by_someone_else(
    prompt: ChannelMessage | None, user_id: str, opted_out: frozenset[str] = frozenset()
) -> ChannelMessage | None:
    """``prompt`` unless its author is the one answering or opted out: nobody answers themselves."""
    if prompt is None or prompt.user_id == user_id or prompt.user_id in opted_out:
        return None
    return prompt


def history_rows(page: list[Heard], deleted: Container[str] = ()) -> list[ChannelMessage]:
    """What to learn of a page of a channel's history (newest first): each learnable message
    after the one it replies to, or after the page's next older message when someone else sent
    that one at most ANSWER_SECONDS before."""
    rows = [learnable(heard, deleted) for heard in page]
    learned = []
    for i, (heard, row) in enumerate(zip(page, rows)):
        if row is not None:
            older = (rows[i + 1], page[i + 1].sent_at) if i + 1 < len(page) else (None, None)
            learned.append(row.answering(by_someone_else(answered(heard, *older, heard.sent_at, deleted), row.user_id)))
    return learned
