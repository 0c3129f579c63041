"""History backfill: ``/train history [limit]`` learns a channel's past messages.

A reader hands over the channel's history, newest first, one page per call (paginated and
rate-limit aware on the platform's side). Messages that passed the listening rules are queued
under their platform ids (a message is never queued twice) and learned in large batches.
The next pages are read and sifted while the rows of those before are queued (one queueing
at a time, in order; the pages read meanwhile go in the next one together); the cursor
is saved after the rows it passed are queued, so a backfill interrupted by a restart resumes
where it stopped and learns nothing twice. Each build rewrites the whole model, so a build
starts only when the backfill has queued enough new messages to make the model a few times
bigger (the database's ``backfill_growth``): a long backfill rewrites the model a few times,
not once per fixed-size batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from dbslm.domain import ChannelMessage
from dbslm.listening.learning import ChannelLearning
from dbslm.listening.listener import Listener
from dbslm.listening.pairing import Heard

log = logging.getLogger(__name__)
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 5_000_000
LEARN_EVERY = 200_000  # queued messages per build, at least
QUEUE_EVERY = 20_000  # most rows queued in one transaction
PROGRESS_SECONDS = 10.0


T = TypeVar("T")


@dataclass(frozen=True)
class HistoryPage(Generic[T]):
    messages: list[T]  # newest first
    cursor: str | None  # where the next (older) page starts; None at the channel's beginning


HistoryReader = Callable[[str | None], Awaitable[HistoryPage[T]]]
Tell = Callable[[str], Awaitable[None]]


class BackfillError(Exception):
    """The platform refused the history (no access to the channel, say): a one-line reason."""


async def backfill(
    listener: Listener,
    learning: ChannelLearning,
    read: HistoryReader[Heard],
    cursor: str | None,
    save_cursor: Callable[[str | None], Awaitable[None]],
    limit: int,
    tell: Tell,
) -> None:
    """Read up to ``limit`` past messages, from ``cursor`` (where a backfill before stopped) on,
    and learn the learnable ones; ``save_cursor`` keeps where the pages queued so far end."""
    seen, queued, waiting = 0, 0, 0
    started = reported = time.monotonic()
    problem = ""
    rows: list[ChannelMessage] = []  # of pages read but not handed to queueing yet
    unsaved = False  # whether pages were read since the rows were last handed to queueing
    writing: asyncio.Task[int] | None = None  # the rows handed last, queued while the next pages are read
    learning_tasks: list[asyncio.Task] = []  # batches build while the next pages are read
    reading: asyncio.Future[HistoryPage[Heard]] | None = asyncio.ensure_future(read(cursor))
    growth = learning.store.db.dialect.backfill_growth

    async def queue(batch: list[ChannelMessage], upto: str | None) -> int:
        """Queue ``batch``, then save the cursor ``upto`` after it; returns how many were new."""
        fresh = await learning.queue(batch)
        await save_cursor(upto)
        return fresh

    async def written() -> None:
        """Wait for the rows handed to queueing (still queued if this is cancelled), count
        them, and start a build when enough wait: the model grows by the database's
        ``backfill_growth`` between builds."""
        nonlocal writing, queued, waiting
        if writing is None:
            return
        fresh = await asyncio.shield(writing)
        writing, queued, waiting = None, queued + fresh, waiting + fresh
        if waiting >= max(LEARN_EVERY, (growth - 1) * (queued - waiting)):
            learning_tasks.append(asyncio.create_task(learning.learn_queued()))
            waiting = 0

    try:
        while reading is not None:  # whole pages: a resumed backfill starts at the next one
            try:
                page = await reading
            except BackfillError as exc:
                problem = f"I could not read this channel's history: {exc}. "
                break
            rows += listener.history_rows(page.messages)
            seen += len(page.messages)
            cursor, unsaved = page.cursor, True
            more = cursor is not None and bool(page.messages) and seen < limit
            reading = asyncio.ensure_future(read(cursor)) if more else None
            if len(rows) < QUEUE_EVERY and reading is not None and writing is not None and not writing.done():
                continue  # pages read while a queueing is under way go in together, after it
            await written()
            writing = asyncio.create_task(queue(rows, cursor))
            rows, unsaved = [], False
            if time.monotonic() - reported > PROGRESS_SECONDS:
                reported = time.monotonic()
                await _tell(tell, f"History: {seen:,} messages read, {queued:,} to learn so far ...")
        await written()
        if unsaved:  # the pages read before a refused one
            queued += await queue(rows, cursor)
    except BaseException as exc:  # stopped (shutdown) or failed: what is queued is learned at the next start
        if reading is not None:
            reading.cancel()
        for task in learning_tasks:
            task.cancel()  # a build cut short never goes live
        if writing is not None:  # the rows handed to queueing go in, or fail, before this ends
            await asyncio.gather(writing, return_exceptions=True)
        if unsaved and isinstance(exc, asyncio.CancelledError):  # stopped: keep what was read
            await queue(rows, cursor)
        raise
    learning_tasks.append(asyncio.create_task(learning.learn_queued()))
    await asyncio.gather(*learning_tasks)
    more = " There is more: run it again to go further back." if cursor is not None and not problem else ""
    await _tell(
        tell,
        f"{problem}History: learned {queued:,} new of {seen:,} messages read in "
        f"{time.monotonic() - started:.1f} s.{more}",
    )


async def _tell(tell: Tell, text: str) -> None:
    """Report progress; a report that cannot be delivered (an expired interaction, say) is
    logged and the backfill goes on."""
    try:
        await tell(text)
    except Exception:  # noqa: BLE001 - the platform's own error; the work matters more than the report
        log.warning("could not deliver a backfill report", exc_info=True)
