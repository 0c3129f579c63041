"""History backfill: ``/train history [limit]`` learns a channel's past messages.

The adapter hands the core a reader of the channel's history, newest first, one page per call
(paginated and rate-limit aware on the platform's side). Messages pass the listening rules,
are queued under their platform ids (a message is never queued twice) and learned in large
batches; the page cursor is saved after every page, so a backfill interrupted by a restart
resumes where it stopped and learns nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.communities import Communities
from bot.events import Message, Send

log = logging.getLogger(__name__)
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 5_000_000
LEARN_EVERY = 200_000  # queued messages per build
PROGRESS_SECONDS = 10.0


@dataclass(frozen=True)
class HistoryPage:
    messages: list[Message]  # newest first
    cursor: str | None  # where the next (older) page starts; None at the channel's beginning


HistoryReader = Callable[[str | None], Awaitable[HistoryPage]]


class BackfillError(Exception):
    """The platform refused the history (no access to the channel, say): a one-line reason."""


async def backfill(communities: Communities, command: Message, read: HistoryReader, limit: int,
                   send: Send) -> None:
    """Read up to ``limit`` past messages of the command's channel and learn the learnable ones."""
    engine = await communities.engine(command)
    model_id = await engine.model_id()
    state = await communities.channel(engine, command)
    cursor, seen, queued, waiting = state.backfill_cursor, 0, 0, 0
    started = reported = time.monotonic()
    problem = ""
    learning: list[asyncio.Task] = []  # batches build while the next pages are read
    try:
        while seen < limit:  # whole pages: a resumed backfill starts at the next one
            try:
                page = await read(cursor)
            except BackfillError as exc:
                problem = f"I could not read this channel's history: {exc}. "
                break
            opted_out = await communities.opted_out(engine)
            rows = [row for m in page.messages if (row := communities.learnable(m, engine, opted_out))]
            seen += len(page.messages)
            fresh = await engine.learning.queue(model_id, rows)
            queued, waiting = queued + fresh, waiting + fresh
            cursor = page.cursor
            await communities.update_channel(engine, command, backfill_cursor=cursor)
            if waiting >= LEARN_EVERY:
                learning.append(asyncio.create_task(engine.learning.learn_pending(model_id)))
                waiting = 0
            if time.monotonic() - reported > PROGRESS_SECONDS:
                reported = time.monotonic()
                await _tell(send, f"History: {seen:,} messages read, {queued:,} to learn so far ...")
            if cursor is None or not page.messages:
                break
    except BaseException:  # stopped (shutdown) or failed: what is queued is learned at the next start
        for task in learning:
            task.cancel()  # a build cut short never goes live
        raise
    learning.append(asyncio.create_task(engine.learning.learn_pending(model_id)))
    await asyncio.gather(*learning)
    more = " There is more: run it again to go further back." if cursor is not None and not problem else ""
    await _tell(send, f"{problem}History: learned {queued:,} new of {seen:,} messages read in "
                      f"{time.monotonic() - started:.1f} s.{more}")


async def _tell(send: Send, text: str) -> None:
    """Report progress; a report that cannot be delivered (an expired interaction, say) is
    logged and the backfill goes on."""
    try:
        await send(text)
    except Exception:  # noqa: BLE001 - the platform's own error; the work matters more than the report
        log.warning("could not deliver a backfill report", exc_info=True)
