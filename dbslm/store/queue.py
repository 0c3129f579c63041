"""The learning queue: the messages heard in listened channels, numbered as they are queued
and kept once learned, so that forgetting can subtract them exactly.

Each queued message gets the next sequence number of its model's queue; the serving model
holds every message up to its queue's ``learned`` number, so one build takes the next numbers
and its switch moves that one number, whatever the size of the batch. The queue's counter row
is locked from numbering to commit, so numbers commit in order and a build never passes over a
message still being queued. Deleting queued messages counts a drop: a build whose batch was
taken before a drop, or before another process moved the number, never goes live. A crash
mid-build moves nothing: the next build takes the same messages again.

The ``status`` column holds a message's mark: ``queued`` until it is marked ``forgetting``
or ``unpairing`` (:class:`dbslm.domain.Status`); a ``queued`` row whose number the queue's
``learned`` number has passed is learned.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from dbslm.domain import ChannelMessage, Status
from dbslm.store.database import Database, in_parts
from dbslm.store.grouped import GroupCommit
from dbslm.store.queueing import add_answers, queue_each

QUEUED, LEARNED, FORGETTING, UNPAIRING = (s.value for s in Status)  # as bound and stored
_ANSWERS = "LEFT JOIN answers a ON a.model_id = l.model_id AND a.message_key = l.message_key"  # each one's prompt
CHANNEL = "channel"  # the source of the pairs that channel messages make
PER_STATEMENT = 200  # models asked about in one statement (SQLite's compound SELECT takes 500 parts)
_MESSAGES = (
    "SELECT l.message_key, l.user_id, l.channel_key, l.text, CASE WHEN l.status IN (?, ?) THEN l.status "
    "WHEN l.seq <= q.learned THEN ? ELSE ? END, a.prompt_key, a.prompt_user, a.prompt "
    f"FROM learned l JOIN queues q ON q.model_id = l.model_id {_ANSWERS}"
)
_MESSAGES_PARAMS = (FORGETTING, UNPAIRING, LEARNED, QUEUED)
_IN_STATE = {
    Status.QUEUED: ("l.seq > q.learned", ()),
    Status.LEARNED: ("l.seq <= q.learned AND l.status NOT IN (?, ?)", (FORGETTING, UNPAIRING)),
    Status.FORGETTING: ("l.status = ?", (FORGETTING,)),
    Status.UNPAIRING: ("l.status = ?", (UNPAIRING,)),
}


def _message(row: Sequence) -> ChannelMessage:
    return ChannelMessage(row[0], row[1], row[2], row[3], Status(row[4]), *row[5:])


@dataclass(frozen=True)
class Batch:
    """The next build's messages, the sequence numbers they lie between and the queue's drop
    count when they were taken."""

    pairs: list[tuple[str | None, str]]  # each message after its prompt (None when it has none)
    first: str  # the key of its first message
    after: int  # the queue's learned number when the batch was taken
    through: int  # the last sequence number among them
    dropped: int


class BatchChanged(Exception):
    """Since a build's messages were read, another process learned or subtracted them, or
    queued messages were dropped: the build must not go live."""


class QueueStore:
    """The channel messages each model learned or will learn, in the order they were queued."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queued = GroupCommit(db, queue_each)

    async def add(self, model_id: int, messages: Sequence[ChannelMessage]) -> int:
        """Queue messages for learning, numbered in order; a message already queued or
        learned is left as it is. Returns how many of ``messages`` were new.

        Callers that queue for the same model while the writer is busy share its next
        commit (:class:`GroupCommit`: busy channels cost one commit, not one each); each
        returns once its messages are committed."""
        return await self._queued(model_id, messages) if messages else 0

    async def messages(
        self,
        model_id: int,
        *,
        status: Status | None = None,
        user_id: str | None = None,
        message_key: str | None = None,
        prompt_user: str | None = None,
        prompt_key: str | None = None,
    ) -> list[ChannelMessage]:
        """The model's messages in the order they were queued, filtered as given (``status``:
        a :class:`Status`)."""
        where, params = ["l.model_id = ?"], [*_MESSAGES_PARAMS, model_id]
        if status is not None:
            where.append(_IN_STATE[Status(status)][0])
            params += _IN_STATE[Status(status)][1]
        for column, value in (
            ("l.user_id", user_id),
            ("l.message_key", message_key),
            ("a.prompt_user", prompt_user),
            ("a.prompt_key", prompt_key),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = await self.db.fetchall(f"{_MESSAGES} WHERE {' AND '.join(where)} ORDER BY l.seq", params)
        return [_message(r) for r in rows]

    async def by_keys(self, model_id: int, keys: Sequence[str], answering: bool = False) -> list[ChannelMessage]:
        """The rows of those ``keys`` (or, ``answering``, of the messages that answer them), as they are now."""
        column = "a.prompt_key" if answering else "l.message_key"
        found: list[ChannelMessage] = []
        for part, marks in in_parts(keys):
            rows = await self.db.fetchall(
                f"{_MESSAGES} WHERE l.model_id = ? AND {column} IN ({marks})", (*_MESSAGES_PARAMS, model_id, *part)
            )
            found += [_message(r) for r in rows]
        return found

    async def waiting(self) -> int:
        """How many messages, over every model, are queued and not learned yet."""
        queues = await self.db.fetchall("SELECT model_id, learned FROM queues WHERE queued > learned")
        counts = await self._per_model("SELECT COUNT(*) FROM learned WHERE model_id = ? AND seq > ?", queues)
        return sum(int(count) for (count,) in counts)

    async def models_waiting(self) -> list[str]:
        """The names of the models with messages queued but not learned yet, or to subtract."""
        queues = await self.db.fetchall(
            "SELECT q.model_id, q.learned, m.name FROM queues q JOIN models m ON m.id = q.model_id ORDER BY m.name"
        )
        flags = await self._per_model(
            "SELECT ?, EXISTS (SELECT 1 FROM learned WHERE model_id = ? AND seq > ?) "
            "OR EXISTS (SELECT 1 FROM learned WHERE model_id = ? AND status = ?)",
            [(model_id, model_id, learned, model_id, FORGETTING) for model_id, learned, _ in queues],
        )
        busy = {int(model_id) for model_id, flag in flags if flag}
        return [name for model_id, _, name in queues if model_id in busy]

    async def _per_model(self, query: str, params: Sequence[Sequence[object]]) -> list[tuple]:
        """``query``'s row for each parameter row (in no set order), many in one statement: each
        model's bounds are values, so each is a range of its index on both backends (MariaDB has
        no range access for a bound taken from a joined row)."""
        rows: list[tuple] = []
        for start in range(0, len(params), PER_STATEMENT):
            part = params[start : start + PER_STATEMENT]
            rows += await self.db.fetchall(" UNION ALL ".join([query] * len(part)), [v for p in part for v in p])
        return rows

    async def models_learned_from(self, user_id: str) -> list[str]:
        """The names of the models that learned (or will learn) messages of ``user_id``."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT m.name FROM learned g JOIN models m ON m.id = g.model_id "
            "WHERE g.user_id = ? ORDER BY m.name",
            (user_id,),
        )
        return [r[0] for r in rows]

    async def last_queued(self, model_id: int) -> int:
        """The sequence number of the model's newest queued message (0 when none ever was)."""
        row = await self.db.fetchone("SELECT queued FROM queues WHERE model_id = ?", (model_id,))
        return int(row[0]) if row else 0

    async def take(self, model_id: int, most: int, last: int) -> Batch | None:
        """The next build's messages: up to ``most`` of the queued ones queued up to sequence
        number ``last``, in queue order (None when none is queued)."""
        queue = await self.db.fetchone("SELECT learned, dropped FROM queues WHERE model_id = ?", (model_id,))
        rows = (
            []
            if queue is None
            else await self.db.fetchall(  # no key per row: MariaDB's rows are parsed in Python
                f"SELECT l.seq, a.prompt, l.text FROM learned l {_ANSWERS} "
                "WHERE l.model_id = ? AND l.seq > ? AND l.seq <= ? ORDER BY l.seq LIMIT ?",
                (model_id, queue[0], last, most),
            )
        )
        if not rows:
            return None
        first = await self.db.fetchone(
            "SELECT message_key FROM learned WHERE model_id = ? AND seq = ?", (model_id, rows[0][0])
        )
        if first is None:  # dropped since (an opt-out, a deletion, by another process): read the queue again
            return await self.take(model_id, most, last)
        return Batch([(r[1], r[2]) for r in rows], first[0], queue[0], rows[-1][0], queue[1])

    async def queued_of_opted_out(self, model_id: int) -> tuple[list[str], list[str]]:
        """The queued messages of people who opted out of the model's learning, and the queued
        messages that answer one of theirs (the opt-outs as the database holds them now)."""
        queue = await self.db.fetchone("SELECT learned FROM queues WHERE model_id = ?", (model_id,))
        if queue is None or not await self.db.fetchone("SELECT 1 FROM optouts WHERE model_id = ? LIMIT 1", (model_id,)):
            return [], []
        rows = await self.db.fetchall(  # the bound as a value: a range of the (model_id, seq) index on both backends
            f"SELECT l.message_key, o.user_id IS NOT NULL FROM learned l {_ANSWERS} "
            "LEFT JOIN optouts o ON o.model_id = l.model_id AND o.user_id = l.user_id "
            "WHERE l.model_id = ? AND l.seq > ? AND (o.user_id IS NOT NULL OR a.prompt_user IN "
            "(SELECT user_id FROM optouts WHERE model_id = ?))",
            (model_id, queue[0], model_id),
        )
        return [key for key, own in rows if own], [key for key, own in rows if not own]

    async def set_aside(self, model_id: int, key: str, reason: str) -> None:
        """Take a queued message that cannot be learned out of the queue, keeping why."""
        async with self.db.transaction() as tx:
            await _count_drop(tx, model_id)  # first: it holds the queue's row, as queueing does
            await tx.execute(
                "INSERT INTO set_aside (model_id, message_key, user_id, reason, created_at) "
                "SELECT model_id, message_key, user_id, ?, ? FROM learned "
                "WHERE model_id = ? AND message_key = ?",
                (reason, time.time(), model_id, key),
            )
            await self._remove(tx, model_id, [key])

    async def set_aside_count(self, model_id: int) -> int:
        """How many of the model's channel messages were set aside."""
        row = await self.db.fetchone("SELECT COUNT(*) FROM set_aside WHERE model_id = ?", (model_id,))
        return int(row[0])

    async def forget_set_aside(self, model_id: int, user_id: str) -> None:
        """No trace of the user's set-aside messages stays."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM set_aside WHERE model_id = ? AND user_id = ?", (model_id, user_id))

    @staticmethod
    async def mark_learned(tx, model_id: int, batch: Batch) -> None:
        """Inside the transaction ``tx`` that switches to the build holding ``batch`` (whose
        messages with a prompt become pairs); raises :class:`BatchChanged` (so that the build
        never goes live) if the batch is not what it was when taken."""
        moved = await tx.executemany(
            "UPDATE queues SET learned = ? WHERE model_id = ? AND learned = ? AND dropped = ?",
            [(batch.through, model_id, batch.after, batch.dropped)],
        )
        if moved != 1:
            raise BatchChanged
        if any(prompt for prompt, _ in batch.pairs):
            await tx.execute(
                "INSERT INTO pairs (model_id, prompt, response, source, user_id, message_key) "
                "SELECT l.model_id, a.prompt, l.text, ?, l.user_id, l.message_key FROM learned l JOIN "
                "answers a ON a.model_id = l.model_id AND a.message_key = l.message_key "
                "WHERE l.model_id = ? AND l.seq > ? AND l.seq <= ? ORDER BY l.seq",
                (CHANNEL, model_id, batch.after, batch.through),
            )

    async def mark_forgetting(self, model_id: int, keys: Sequence[str]) -> None:
        """Of these messages, the learned ones wait to be subtracted; the others were never in
        the model and are dropped. The learned messages that answer them wait to lose their
        prompt; the queued ones lose it now."""
        async with self.db.transaction() as tx:
            await _lock_queue(tx, model_id)
            queue = await tx.fetchall("SELECT learned FROM queues WHERE model_id = ?", (model_id,))
            if not queue:
                return  # nothing was ever queued
            ((learned,),) = queue
            for part, marks in in_parts(keys):
                answering = f"SELECT message_key FROM answers WHERE model_id = ? AND prompt_key IN ({marks})"
                await tx.execute(
                    f"UPDATE learned SET status = ? WHERE model_id = ? AND message_key IN ({answering}) "
                    "AND seq <= ? AND status = ?",
                    (UNPAIRING, model_id, model_id, *part, learned, QUEUED),
                )
                waiting = "SELECT message_key FROM learned WHERE model_id = ? AND seq > ?"
                if await tx.executemany(
                    f"DELETE FROM answers WHERE model_id = ? AND prompt_key IN ({marks}) AND "
                    f"message_key IN ({waiting})",
                    [(model_id, *part, model_id, learned)],
                ):
                    await _count_drop(tx, model_id)
                await tx.execute(
                    f"UPDATE learned SET status = ? WHERE model_id = ? AND message_key IN ({marks}) AND seq <= ?",
                    (FORGETTING, model_id, *part, learned),
                )
                if await tx.executemany(
                    f"DELETE FROM learned WHERE model_id = ? AND message_key IN ({marks}) AND seq > ?",
                    [(model_id, *part, learned)],
                ):
                    await _count_drop(tx, model_id)

    @staticmethod
    async def clear(tx, model_id: int) -> None:
        """Inside the transaction ``tx`` that switches a model to a build trained from scratch:
        no channel message is in it any more."""
        await _count_drop(tx, model_id)  # first: it holds the queue's row, as queueing does
        await tx.execute("DELETE FROM learned WHERE model_id = ?", (model_id,))
        await tx.execute("DELETE FROM answers WHERE model_id = ?", (model_id,))
        await tx.execute(
            "DELETE FROM pair_vectors WHERE pair_id IN (SELECT id FROM pairs WHERE model_id = ? AND source = ?)",
            (model_id, CHANNEL),
        )
        await tx.execute("DELETE FROM pairs WHERE model_id = ? AND source = ?", (model_id, CHANNEL))

    async def drop_queued(self, model_id: int, keys: Sequence[str]) -> None:
        """Delete queued messages before any build learns them."""
        async with self.db.transaction() as tx:
            await _count_drop(tx, model_id)  # first: it holds the queue's row, as queueing does
            await self._remove(tx, model_id, keys)

    async def remove_subtracted(
        self, tx, model_id: int, keys: Sequence[str], requeued: Sequence[ChannelMessage]
    ) -> None:
        """Inside the transaction ``tx`` that switches to the build without these learned
        messages (``keys``, removed, and ``requeued``, queued again as they are given: with
        their new prompt or none); raises :class:`BatchChanged` if another process subtracted
        some first."""
        await _drop_pairs(tx, model_id, [*keys, *(m.message_key for m in requeued)])
        if await self._remove(tx, model_id, keys) != len(keys):
            raise BatchChanged
        if not requeued:
            return
        await tx.execute("UPDATE queues SET queued = queued + ? WHERE model_id = ?", (len(requeued), model_id))
        ((last,),) = await tx.fetchall("SELECT queued FROM queues WHERE model_id = ?", (model_id,))
        moved = await tx.executemany(
            "UPDATE learned SET status = ?, seq = ? WHERE model_id = ? AND message_key = ? AND status <> ?",
            [
                (QUEUED, seq, model_id, m.message_key, FORGETTING)
                for seq, m in enumerate(requeued, last - len(requeued) + 1)
            ],
        )
        if moved != len(requeued):
            raise BatchChanged
        await _drop_answers(tx, model_id, [m.message_key for m in requeued if m.prompt_key is None])
        await add_answers(tx, model_id, requeued)  # the others' new prompt replaces the old

    async def set_prompts(self, model_id: int, keys: Sequence[str], prompt: ChannelMessage | None) -> None:
        """These queued messages answer ``prompt`` now (the edited text of the one they
        answered), or nothing; a batch taken before never goes live."""
        async with self.db.transaction() as tx:
            await _count_drop(tx, model_id)  # first: it holds the queue's row, as queueing does
            if prompt is None:
                await _drop_answers(tx, model_id, keys)
            else:  # replaces what they answered
                await add_answers(tx, model_id, [ChannelMessage(key, "", "", "").answering(prompt) for key in keys])

    @staticmethod
    async def _remove(tx, model_id: int, keys: Sequence[str]) -> int:
        removed = 0
        for part, marks in in_parts(keys):
            removed += await tx.executemany(
                f"DELETE FROM learned WHERE model_id = ? AND message_key IN ({marks})", [(model_id, *part)]
            )
        await _drop_answers(tx, model_id, keys)
        return removed


async def _drop_answers(tx, model_id: int, keys: Sequence[str]) -> None:
    """These messages answer nothing (any more)."""
    for part, marks in in_parts(keys):
        await tx.execute(f"DELETE FROM answers WHERE model_id = ? AND message_key IN ({marks})", (model_id, *part))


async def _drop_pairs(tx, model_id: int, keys: Sequence[str]) -> None:
    """Delete the pairs (and their sentence vectors) that these channel messages made."""
    for part, marks in in_parts(keys):
        where = f"model_id = ? AND message_key IN ({marks})"
        await tx.execute(
            f"DELETE FROM pair_vectors WHERE pair_id IN (SELECT id FROM pairs WHERE {where})", (model_id, *part)
        )
        await tx.execute(f"DELETE FROM pairs WHERE {where}", (model_id, *part))


async def _lock_queue(tx, model_id: int) -> None:
    """Hold the queue's row from here to the commit, as queueing does before it writes
    messages: transactions that change both never wait for each other in opposite orders."""
    await tx.execute("UPDATE queues SET dropped = dropped WHERE model_id = ?", (model_id,))


async def _count_drop(tx, model_id: int) -> None:
    """Queued messages were deleted: a batch taken before must not go live."""
    await tx.execute("UPDATE queues SET dropped = dropped + 1 WHERE model_id = ?", (model_id,))
