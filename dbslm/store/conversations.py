"""Conversations: their messages, the corrections made in them and the biases those left,
and forgetting a person's rows of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from itertools import accumulate

from dbslm.domain import Bias, Conversation, Correction, LogEntry, Message
from dbslm.store.database import Database, Transaction
from dbslm.store.grouped import GroupCommit

Logged = tuple[int, Sequence[LogEntry]]  # a conversation and the messages to append to it
LOG_COLUMNS = ("conversation_id", "role", "user_id", "text", "concept", "created_at")


class ConversationStore:
    """The conversation tables of one database (one store per database: its logs share commits)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._logged = GroupCommit(db, _log_each)

    async def start_conversation(self, model_id: int, user_id: str, agent: str, channel_key: str | None) -> int:
        async with self.db.transaction() as tx:
            return await tx.execute(
                "INSERT INTO conversations (model_id, user_id, agent, channel_key, created_at) VALUES (?, ?, ?, ?, ?)",
                (model_id, user_id, agent, channel_key, time.time()),
            )

    async def conversation(self, conversation_id: int) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT id, model_id, user_id, agent, channel_key FROM conversations WHERE id = ?", (conversation_id,)
        )
        return Conversation(*row) if row else None

    async def conversation_for_channel(self, model_id: int, channel_key: str) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT id, model_id, user_id, agent, channel_key FROM conversations "
            "WHERE model_id = ? AND channel_key = ? ORDER BY id DESC LIMIT 1",
            (model_id, channel_key),
        )
        return Conversation(*row) if row else None

    async def log(self, conversation_id: int, *entries: LogEntry) -> int:
        """Append messages in one transaction; returns the last one's id.

        Logs that come while the writer is busy share its next commit (:class:`GroupCommit`):
        a reply waits for one commit, not for every reply logged before it."""
        return await self._logged(None, (conversation_id, entries))

    async def conversation_and_history(
        self, conversation_id: int, limit: int
    ) -> tuple[Conversation | None, list[Message]]:
        """A conversation and its last ``limit`` messages (oldest first), read at once (a join
        to the messages' last rows costs MariaDB a temporary table: more than both reads)."""
        conversation, messages = await asyncio.gather(
            self.conversation(conversation_id), self.history(conversation_id, limit)
        )
        return conversation, messages if conversation is not None else []

    async def history(self, conversation_id: int, limit: int) -> list[Message]:
        """The last ``limit`` messages of a conversation, oldest first."""
        rows = await self.db.fetchall(
            "SELECT id, role, user_id, text, concept, created_at FROM messages WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [Message(*r) for r in reversed(rows)]

    async def record_correction(
        self,
        model_id: int,
        conversation_id: int,
        reply_id: int | None,
        user_id: str,
        prompt: str,
        corrected: str,
        strength: float,
    ) -> int:
        """A correction digest and its span bias for this conversation, in one transaction."""
        now = time.time()
        async with self.db.transaction() as tx:
            correction = await tx.execute(
                "INSERT INTO corrections (conversation_id, reply_id, user_id, prompt, corrected, scope, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'conversation', ?)",
                (conversation_id, reply_id, user_id, prompt, corrected, now),
            )
            await tx.execute(
                "INSERT INTO biases (model_id, conversation_id, correction_id, user_id, prompt, span, strength, "
                "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (model_id, conversation_id, correction, user_id, prompt, corrected, strength, now),
            )
        return correction

    async def approve_correction(self, correction_id: int) -> bool:
        """Make a correction's bias global for its model (an admin's decision)."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall("SELECT id FROM corrections WHERE id = ?", (correction_id,))
            if not rows:
                return False
            await tx.execute("UPDATE corrections SET scope = 'global' WHERE id = ?", (correction_id,))
            await tx.execute("UPDATE biases SET conversation_id = NULL WHERE correction_id = ?", (correction_id,))
        return True

    async def reject_correction(self, correction_id: int) -> None:
        """Withdraw a correction: its bias goes, the digest stays, marked rejected."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE corrections SET scope = 'rejected' WHERE id = ?", (correction_id,))
            await tx.execute("DELETE FROM biases WHERE correction_id = ?", (correction_id,))

    async def corrections(
        self, model_id: int, scope: str | None = None, correction_id: int | None = None, limit: int = 50
    ) -> list[Correction]:
        """The corrections made in the model's conversations, oldest first: those of one
        ``scope``, or the one ``correction_id``."""
        where, params = "v.model_id = ?", [model_id]
        if scope is not None:
            where, params = where + " AND c.scope = ?", params + [scope]
        if correction_id is not None:
            where, params = where + " AND c.id = ?", params + [correction_id]
        rows = await self.db.fetchall(
            "SELECT c.id, c.user_id, c.prompt, c.corrected, c.scope FROM corrections c "
            f"JOIN conversations v ON v.id = c.conversation_id WHERE {where} ORDER BY c.id LIMIT ?",
            (*params, limit),
        )
        return [Correction(int(r[0]), *r[1:]) for r in rows]

    async def biases(self, model_id: int, conversation_id: int) -> list[Bias]:
        """Biases in force for a conversation: its own and the model's global ones."""
        rows = await self.db.fetchall(
            "SELECT id, conversation_id, prompt, span, strength FROM biases WHERE model_id = ? "
            "AND (conversation_id = ? OR conversation_id IS NULL) AND (expires_at IS NULL OR expires_at > ?) "
            "ORDER BY id",
            (model_id, conversation_id, time.time()),
        )
        return [Bias(*r) for r in rows]

    async def forget_user(self, user_id: str, model_id: int | None = None) -> dict[str, int]:
        """Delete everything tied to a user (in one model's rows when ``model_id`` is given):
        their conversations (with every message in them), their other messages, corrections,
        biases and learned pairs. Returns rows removed per table."""
        in_conversation = " AND conversation_id IN (SELECT id FROM conversations WHERE model_id = ?)"
        scope = {
            table: ("", ()) if model_id is None else (clause, (model_id,))
            for table, clause in (
                ("biases", " AND model_id = ?"),
                ("corrections", in_conversation),
                ("messages", in_conversation),
                ("pairs", " AND model_id = ?"),
                ("conversations", " AND model_id = ?"),
            )
        }
        removed: dict[str, int] = {}
        async with self.db.transaction() as tx:
            clause, extra = scope["conversations"]
            own = [
                r[0]
                for r in await tx.fetchall(f"SELECT id FROM conversations WHERE user_id = ?{clause}", (user_id, *extra))
            ]
            for table in ("biases", "corrections", "messages", "pair_vectors", "pairs", "conversations"):
                if table == "pair_vectors":
                    clause, extra = scope["pairs"]
                    where, params = f"pair_id IN (SELECT id FROM pairs WHERE user_id = ?{clause})", [user_id, *extra]
                else:
                    clause, extra = scope[table]
                    where, params = f"(user_id = ?{clause})", [user_id, *extra]
                    if own and table in ("biases", "corrections", "messages"):
                        where += f" OR conversation_id IN ({', '.join('?' for _ in own)})"
                        params += own
                count = await tx.fetchall(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
                removed[table] = int(count[0][0])
                await tx.execute(f"DELETE FROM {table} WHERE {where}", params)
        return removed


async def _log_each(tx: Transaction, _: None, logs: list[Logged]) -> list[int]:
    """Append each log's messages in order, as multi-row statements; the id of each one's last
    message. A statement numbers its rows in order, so its ids sorted are its rows'."""
    rows = [(conversation_id, *entry.values()) for conversation_id, entries in logs for entry in entries]
    per_statement = tx.dialect.max_params // len(LOG_COLUMNS)
    ids: list[int] = []
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        values = ", ".join([f"({', '.join('?' for _ in LOG_COLUMNS)})"] * len(part))
        inserted = await tx.fetchall(
            f"INSERT INTO messages ({', '.join(LOG_COLUMNS)}) VALUES {values} RETURNING id",
            [value for row in part for value in row],
        )
        ids += sorted(int(r[0]) for r in inserted)
    return [ids[end - 1] for end in accumulate(len(entries) for _, entries in logs)]
