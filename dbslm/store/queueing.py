"""What queueing a heard message writes: its row in the learning queue, numbered after the
messages queued before it, and the message it answers."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dbslm.domain import ChannelMessage, Status
from dbslm.store.database import Transaction, in_parts

QUEUED = Status.QUEUED.value  # as bound and stored


async def queue_each(tx: Transaction, model_id: int, callers: list[Sequence[ChannelMessage]]) -> list[int]:
    """Queue the messages of several callers in ``tx``; how many of each one's were new (a
    message two of them queue counts for the first)."""
    new = await _queue(tx, model_id, [m for messages in callers for m in messages])
    counts = []
    for messages in callers:
        mine = {m.message_key for m in messages} & new
        new -= mine
        counts.append(len(mine))
    return counts


async def _queue(tx: Transaction, model_id: int, messages: Sequence[ChannelMessage]) -> set[str]:
    """Queue ``messages`` (numbered in key order) in ``tx``; returns the keys that were new."""
    fresh = sorted({m.message_key: m for m in messages}.values(), key=lambda m: m.message_key)  # key order
    if not fresh:
        return set()
    counters = ("model_id", "queued", "learned", "dropped")
    await tx.execute(
        tx.dialect.upsert("queues", counters, ("model_id",), add=counters[1:]), (model_id, len(fresh), 0, 0)
    )  # the counter row stays locked until the commit
    ((last,),) = await tx.fetchall("SELECT queued FROM queues WHERE model_id = ?", (model_id,))
    first = last - len(fresh) + 1
    inserted = await tx.insert_rows(
        "learned",
        ("model_id", "message_key", "user_id", "channel_key", "text", "status", "created_at", "seq"),
        [
            model_id,
            [m.message_key for m in fresh],
            [m.user_id for m in fresh],
            [m.channel_key for m in fresh],
            [m.text for m in fresh],
            QUEUED,
            time.time(),
            range(first, last + 1),
        ],
        keep_on=("model_id", "message_key"),
    )
    known = set() if inserted == len(fresh) else await _queued_before(tx, model_id, fresh, first)
    await add_answers(tx, model_id, [m for m in fresh if m.message_key not in known])
    return {m.message_key for m in fresh} - known


async def add_answers(tx, model_id: int, messages: Sequence[ChannelMessage]) -> None:
    """Record what those of ``messages`` that answer another answer."""
    answers = [m for m in messages if m.prompt_key is not None]
    if answers:
        await tx.insert_rows(
            "answers",
            ("model_id", "message_key", "prompt_key", "prompt_user", "prompt"),
            [
                model_id,
                [m.message_key for m in answers],
                [m.prompt_key for m in answers],
                [m.prompt_user for m in answers],
                [m.prompt for m in answers],
            ],
            update_on=("model_id", "message_key"),
        )


async def _queued_before(tx: Transaction, model_id: int, messages: Sequence[ChannelMessage], first: int) -> set[str]:
    """The keys of ``messages`` that were queued before this transaction (numbered before ``first``)."""
    return {
        key
        for part, marks in in_parts([m.message_key for m in messages])
        for (key,) in await tx.fetchall(
            f"SELECT message_key FROM learned WHERE model_id = ? AND message_key IN ({marks}) "
            "AND (seq IS NULL OR seq < ?)",
            (model_id, *part, first),
        )
    }
