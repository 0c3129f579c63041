"""Community rows: each channel's listening switch and reply chance, opt-outs, banned words,
and the messages learned from channels (kept so that forgetting can subtract them exactly)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbslm.store.database import Database

# A message waits (pending) until the build that took it goes live, then is in the serving
# model (learned); deleted on its platform, it waits to be subtracted (forgetting). A crash
# mid-build leaves rows pending: the next batch takes them again. Earlier versions marked
# taken rows "learning"; such rows are taken like pending ones.
PENDING, LEARNING, LEARNED, FORGETTING = "pending", "learning", "learned", "forgetting"


@dataclass(frozen=True)
class ChannelState:
    listening: bool = False
    chance: float = 0.0  # the share of unprompted messages answered, 0..1
    backfill_cursor: str | None = None  # where a history backfill stopped


@dataclass(frozen=True)
class LearnedMessage:
    message_key: str  # the platform's message, e.g. discord:<channel>:<message id>
    user_id: str
    channel_key: str
    text: str
    status: str = PENDING


class CommunityStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def channel(self, model_id: int, channel_key: str) -> ChannelState:
        row = await self.db.fetchone("SELECT listening, chance, backfill_cursor FROM channels "
                                     "WHERE model_id = ? AND channel_key = ?", (model_id, channel_key))
        return ChannelState(bool(row[0]), float(row[1]), row[2]) if row else ChannelState()

    async def save_channel(self, model_id: int, channel_key: str, state: ChannelState) -> None:
        columns = ("model_id", "channel_key", "listening", "chance", "backfill_cursor", "updated_at")
        async with self.db.transaction() as tx:
            await tx.execute(self.db.dialect.upsert("channels", columns, ("model_id", "channel_key")),
                             (model_id, channel_key, int(state.listening), state.chance, state.backfill_cursor,
                              time.time()))

    async def listened_channels(self, model_id: int) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM channels WHERE model_id = ? AND listening = 1", (model_id,))
        return int(row[0])

    async def set_opted_out(self, model_id: int, user_id: str, out: bool) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM optouts WHERE model_id = ? AND user_id = ?", (model_id, user_id))
            if out:
                await tx.execute("INSERT INTO optouts (model_id, user_id, created_at) VALUES (?, ?, ?)",
                                 (model_id, user_id, time.time()))

    async def opted_out(self, model_id: int) -> frozenset[str]:
        rows = await self.db.fetchall("SELECT user_id FROM optouts WHERE model_id = ?", (model_id,))
        return frozenset(r[0] for r in rows)

    async def banned_words(self, model_id: int, defaults: frozenset[str]) -> frozenset[str]:
        """``defaults`` with the model's own bans added and its lifted ones removed."""
        rows = await self.db.fetchall("SELECT word, banned FROM banned_words WHERE model_id = ?", (model_id,))
        return (defaults | {w for w, b in rows if b}) - {w for w, b in rows if not b}

    async def set_banned(self, model_id: int, words: Sequence[str], banned: bool) -> None:
        async with self.db.transaction() as tx:
            await tx.executemany(self.db.dialect.upsert("banned_words", ("model_id", "word", "banned"),
                                                        ("model_id", "word")),
                                 [(model_id, w, int(banned)) for w in words])

    async def add_pending(self, model_id: int, messages: Sequence[LearnedMessage]) -> int:
        """Queue messages for learning; a message already queued or learned is left as it
        is. Returns how many were new."""
        fresh = sorted({m.message_key: m for m in messages}.values(), key=lambda m: m.message_key)  # key order
        if not fresh:
            return 0
        now = time.time()
        async with self.db.transaction() as tx:
            return await tx.insert_rows("learned", ("model_id", "message_key", "user_id", "channel_key", "text",
                                                    "status", "created_at"),
                                        [[model_id] * len(fresh), [m.message_key for m in fresh],
                                         [m.user_id for m in fresh], [m.channel_key for m in fresh],
                                         [m.text for m in fresh], [PENDING] * len(fresh), [now] * len(fresh)],
                                        keep_on=("model_id", "message_key"))

    async def messages(self, model_id: int, *, status: str | None = None, user_id: str | None = None,
                       message_key: str | None = None) -> list[LearnedMessage]:
        """The model's learned (or pending) messages, oldest first, filtered as given."""
        where, params = ["model_id = ?"], [model_id]
        for column, value in (("status", status), ("user_id", user_id), ("message_key", message_key)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = await self.db.fetchall("SELECT message_key, user_id, channel_key, text, status FROM learned "
                                      f"WHERE {' AND '.join(where)} ORDER BY created_at, message_key", params)
        return [LearnedMessage(*r) for r in rows]

    async def by_keys(self, model_id: int, keys: Sequence[str]) -> list[LearnedMessage]:
        """The rows of those ``keys`` that exist, as they are now."""
        found: list[LearnedMessage] = []
        for part, marks in _chunks(keys):
            rows = await self.db.fetchall("SELECT message_key, user_id, channel_key, text, status FROM learned "
                                          f"WHERE model_id = ? AND message_key IN ({marks})", (model_id, *part))
            found += [LearnedMessage(*r) for r in rows]
        return found

    async def models_waiting(self) -> list[str]:
        """The names of the models with messages queued (or taken) but not learned yet."""
        rows = await self.db.fetchall("SELECT DISTINCT m.name FROM learned g JOIN models m ON m.id = g.model_id "
                                      "WHERE g.status <> ? ORDER BY m.name", (LEARNED,))
        return [r[0] for r in rows]

    async def models_learned_from(self, user_id: str) -> list[str]:
        """The names of the models that learned (or will learn) messages of ``user_id``."""
        rows = await self.db.fetchall("SELECT DISTINCT m.name FROM learned g JOIN models m ON m.id = g.model_id "
                                      "WHERE g.user_id = ? ORDER BY m.name", (user_id,))
        return [r[0] for r in rows]

    async def take_pending(self, model_id: int, most: int) -> tuple[list[str], list[str]]:
        """The keys and texts of the next build's messages, in key order (the status index's
        order, so no sort): up to ``most`` pending ones (and any an interrupted build of an
        earlier version left learning)."""
        rows: list[tuple[str, str]] = []
        for status in (LEARNING, PENDING):
            rows += await self.db.fetchall("SELECT message_key, text FROM learned WHERE model_id = ? AND status = ? "
                                           "ORDER BY message_key LIMIT ?", (model_id, status, most - len(rows)))
        return [r[0] for r in rows], [r[1] for r in rows]

    async def mark_learned(self, tx, model_id: int, keys: Sequence[str]) -> None:
        """Inside the transaction ``tx`` that switches to the build holding the taken messages."""
        for part, marks in _chunks(keys):
            await tx.execute(f"UPDATE learned SET status = ? WHERE model_id = ? AND message_key IN ({marks})",
                             (LEARNED, model_id, *part))

    async def mark_forgetting(self, model_id: int, keys: Sequence[str]) -> None:
        """Of these messages, the learned ones wait to be subtracted; the others were never in
        the model and are dropped."""
        async with self.db.transaction() as tx:
            for part, marks in _chunks(keys):
                await tx.execute(f"UPDATE learned SET status = ? WHERE model_id = ? AND status = ? "
                                 f"AND message_key IN ({marks})", (FORGETTING, model_id, LEARNED, *part))
                await tx.execute(f"DELETE FROM learned WHERE model_id = ? AND status <> ? "
                                 f"AND message_key IN ({marks})", (model_id, FORGETTING, *part))

    @staticmethod
    async def clear(tx, model_id: int) -> None:
        """Inside the transaction ``tx`` that switches a model to a build trained from scratch:
        no channel message is in it any more."""
        await tx.execute("DELETE FROM learned WHERE model_id = ?", (model_id,))

    async def remove(self, tx, model_id: int, keys: Sequence[str]) -> None:
        """Inside the transaction ``tx`` that switches to the build without these messages."""
        for part, marks in _chunks(keys):
            await tx.execute(f"DELETE FROM learned WHERE model_id = ? AND message_key IN ({marks})", (model_id, *part))


def _chunks(keys: Sequence[str], size: int = 500) -> Iterator[tuple[Sequence[str], str]]:
    """``keys`` in parts of at most ``size``, each with its ``?`` placeholders."""
    for start in range(0, len(keys), size):
        part = keys[start:start + size]
        yield part, ", ".join("?" for _ in part)
