"""Each community's settings, in rows: its channels' listening switch, reply chance and
backfill cursor, the users who opted out of learning and the words it bans."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dbslm.domain import ChannelState
from dbslm.store.database import Database


class ChannelStore:
    """A model's community settings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def channel(self, model_id: int, channel_key: str) -> ChannelState:
        row = await self.db.fetchone(
            "SELECT listening, chance, backfill_cursor FROM channels WHERE model_id = ? AND channel_key = ?",
            (model_id, channel_key),
        )
        return ChannelState(bool(row[0]), float(row[1]), row[2]) if row else ChannelState()

    async def save_channel(self, model_id: int, channel_key: str, state: ChannelState) -> None:
        columns = ("model_id", "channel_key", "listening", "chance", "backfill_cursor", "updated_at")
        async with self.db.transaction() as tx:
            await tx.execute(
                self.db.dialect.upsert("channels", columns, ("model_id", "channel_key")),
                (model_id, channel_key, int(state.listening), state.chance, state.backfill_cursor, time.time()),
            )

    async def listened_channels(self, model_id: int) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM channels WHERE model_id = ? AND listening = 1", (model_id,))
        return int(row[0])

    async def set_opted_out(self, model_id: int, user_id: str, out: bool) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM optouts WHERE model_id = ? AND user_id = ?", (model_id, user_id))
            if out:
                await tx.execute(
                    "INSERT INTO optouts (model_id, user_id, created_at) VALUES (?, ?, ?)",
                    (model_id, user_id, time.time()),
                )

    async def opted_out(self, model_id: int) -> frozenset[str]:
        rows = await self.db.fetchall("SELECT user_id FROM optouts WHERE model_id = ?", (model_id,))
        return frozenset(r[0] for r in rows)

    async def banned_words(self, model_id: int, defaults: frozenset[str]) -> frozenset[str]:
        """``defaults`` with the model's own bans added and its lifted ones removed."""
        rows = await self.db.fetchall("SELECT word, banned FROM banned_words WHERE model_id = ?", (model_id,))
        return (defaults | {w for w, b in rows if b}) - {w for w, b in rows if not b}

    async def set_banned(self, model_id: int, words: Sequence[str], banned: bool) -> None:
        async with self.db.transaction() as tx:
            await tx.executemany(
                self.db.dialect.upsert("banned_words", ("model_id", "word", "banned"), ("model_id", "word")),
                [(model_id, w, int(banned)) for w in words],
            )
