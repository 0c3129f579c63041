"""Level 2 rows: conversations, messages, corrections, biases, dialog pairs, decode profiles."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from dbslm.decoder import DecodeSettings
from dbslm.store.database import Database, Transaction
from dbslm.store.schema import TABLES

PAIRS = next(t for t in TABLES if t.name == "pairs")
LIKE_WORDS = 4
PROFILE_COLUMNS = ("temperature", "top_k", "top_p", "cache_weight", "cache_decay", "presence_penalty",
                   "frequency_penalty", "max_tokens", "copy_tokens", "prompt_weight")


@dataclass(frozen=True)
class Conversation:
    id: int
    model_id: int
    user_id: str
    agent: str
    channel_key: str | None


@dataclass(frozen=True)
class Message:
    id: int
    role: str
    user_id: str
    text: str
    concept: str | None
    created_at: float


@dataclass(frozen=True)
class LogEntry:
    """A message to log: who wrote it, when (the default: now), and the concept a reply used."""

    role: str
    user_id: str
    text: str
    concept: str | None = None
    created_at: float = field(default_factory=time.time)

    def values(self) -> tuple[str, str, str, str | None, float]:
        return self.role, self.user_id, self.text, self.concept, self.created_at


@dataclass(frozen=True)
class Correction:
    id: int
    user_id: str
    prompt: str  # the message the corrected reply answered
    corrected: str
    scope: str  # 'conversation' until an admin approves ('global') or rejects ('rejected') it


@dataclass(frozen=True)
class Bias:
    id: int
    conversation_id: int | None
    prompt: str
    span: str
    strength: float


class Level2Store:
    """Reads and writes the Level 2 tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def start_conversation(self, model_id: int, user_id: str, agent: str, channel_key: str | None) -> int:
        async with self.db.transaction() as tx:
            return await tx.execute(
                "INSERT INTO conversations (model_id, user_id, agent, channel_key, created_at) VALUES (?, ?, ?, ?, ?)",
                (model_id, user_id, agent, channel_key, time.time()))

    async def conversation(self, conversation_id: int) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT id, model_id, user_id, agent, channel_key FROM conversations WHERE id = ?", (conversation_id,))
        return Conversation(*row) if row else None

    async def conversation_for_channel(self, model_id: int, channel_key: str) -> Conversation | None:
        row = await self.db.fetchone(
            "SELECT id, model_id, user_id, agent, channel_key FROM conversations "
            "WHERE model_id = ? AND channel_key = ? ORDER BY id DESC LIMIT 1", (model_id, channel_key))
        return Conversation(*row) if row else None

    async def log(self, conversation_id: int, *entries: LogEntry) -> int:
        """Append messages in one transaction; returns the last one's id."""
        async with self.db.transaction() as tx:
            for entry in entries:
                last = await tx.execute(
                    "INSERT INTO messages (conversation_id, role, user_id, text, concept, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (conversation_id, *entry.values()))
        return last

    async def conversation_and_history(self, conversation_id: int, limit: int
                                       ) -> tuple[Conversation | None, list[Message]]:
        """A conversation and its last ``limit`` messages (oldest first), in one query."""
        rows = await self.db.fetchall(
            "SELECT c.id, c.model_id, c.user_id, c.agent, c.channel_key, m.id, m.role, m.user_id, m.text, m.concept, "
            "m.created_at FROM conversations c LEFT JOIN (SELECT id, conversation_id, role, user_id, text, concept, "
            "created_at FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) m "
            "ON m.conversation_id = c.id WHERE c.id = ? ORDER BY m.id", (conversation_id, limit, conversation_id))
        if not rows:
            return None, []
        return Conversation(*rows[0][:5]), [Message(*r[5:]) for r in rows if r[5] is not None]

    async def history(self, conversation_id: int, limit: int) -> list[Message]:
        """The last ``limit`` messages of a conversation, oldest first."""
        rows = await self.db.fetchall(
            "SELECT id, role, user_id, text, concept, created_at FROM messages WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT ?", (conversation_id, limit))
        return [Message(*r) for r in reversed(rows)]

    async def record_correction(self, model_id: int, conversation_id: int, reply_id: int | None, user_id: str,
                                prompt: str, corrected: str, strength: float) -> int:
        """A correction digest and its span bias for this conversation, in one transaction."""
        now = time.time()
        async with self.db.transaction() as tx:
            correction = await tx.execute(
                "INSERT INTO corrections (conversation_id, reply_id, user_id, prompt, corrected, scope, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'conversation', ?)",
                (conversation_id, reply_id, user_id, prompt, corrected, now))
            await tx.execute(
                "INSERT INTO biases (model_id, conversation_id, correction_id, user_id, prompt, span, strength, "
                "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (model_id, conversation_id, correction, user_id, prompt, corrected, strength, now))
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

    async def corrections(self, model_id: int, scope: str | None = None, correction_id: int | None = None,
                          limit: int = 50) -> list[Correction]:
        """The corrections made in the model's conversations, oldest first: those of one
        ``scope``, or the one ``correction_id``."""
        where, params = "v.model_id = ?", [model_id]
        if scope is not None:
            where, params = where + " AND c.scope = ?", params + [scope]
        if correction_id is not None:
            where, params = where + " AND c.id = ?", params + [correction_id]
        rows = await self.db.fetchall(
            "SELECT c.id, c.user_id, c.prompt, c.corrected, c.scope FROM corrections c "
            f"JOIN conversations v ON v.id = c.conversation_id WHERE {where} ORDER BY c.id LIMIT ?", (*params, limit))
        return [Correction(int(r[0]), *r[1:]) for r in rows]

    async def biases(self, model_id: int, conversation_id: int) -> list[Bias]:
        """Biases in force for a conversation: its own and the model's global ones."""
        rows = await self.db.fetchall(
            "SELECT id, conversation_id, prompt, span, strength FROM biases WHERE model_id = ? "
            "AND (conversation_id = ? OR conversation_id IS NULL) AND (expires_at IS NULL OR expires_at > ?) "
            "ORDER BY id", (model_id, conversation_id, time.time()))
        return [Bias(*r) for r in rows]

    @staticmethod
    async def add_pairs(tx: Transaction, model_id: int, pairs: Sequence[tuple[str, str]], source: str,
                        user_id: str | None = None) -> None:
        """Inside ``tx`` (the switch to the build that learned them): keep pairs for retrieval,
        with their metadata (a :class:`DialogPair`'s ``meta``) as JSON."""
        if not pairs:
            return
        meta = [json.dumps(p.meta, ensure_ascii=False) if getattr(p, "meta", None) else None for p in pairs]
        await tx.insert_rows("pairs", ("model_id", "prompt", "response", "source", "user_id", "meta"),
                             [[model_id] * len(pairs), [p for p, _ in pairs], [r for _, r in pairs],
                              [source] * len(pairs), [user_id] * len(pairs), meta])

    @staticmethod
    async def clear_pairs(tx: Transaction, model_id: int) -> None:
        """Inside ``tx`` (the switch to a build trained from scratch): no pair is the model's any more."""
        await tx.execute("DELETE FROM pair_vectors WHERE pair_id IN (SELECT id FROM pairs WHERE model_id = ?)",
                         (model_id,))
        await tx.execute("DELETE FROM pairs WHERE model_id = ?", (model_id,))

    async def pair_vectors(self, embedder: str, pair_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored vectors of those pairs' prompts that ``embedder`` made."""
        if not pair_ids:
            return {}
        marks = ", ".join("?" for _ in pair_ids)
        rows = await self.db.fetchall(f"SELECT pair_id, vector FROM pair_vectors WHERE embedder = ? "
                                      f"AND pair_id IN ({marks})", (embedder, *pair_ids))
        return {int(r[0]): bytes(r[1]) for r in rows}

    async def save_pair_vectors(self, embedder: str, vectors: dict[int, bytes]) -> None:
        if not vectors:
            return
        async with self.db.transaction() as tx:
            await tx.insert_rows("pair_vectors", ("pair_id", "embedder", "vector"),
                                 [list(vectors), [embedder] * len(vectors), list(vectors.values())],
                                 update_on=("pair_id", "embedder"))

    async def search_pairs(self, model_ids: Sequence[int], words: list[str], limit: int,
                           column: str = "prompt") -> list[tuple[int, str, str, float]]:
        """Pairs (id, prompt, response, index score) of the models ``model_ids`` whose
        ``column`` (prompt or response) shares words with ``words``, best first: the full-text
        index, then, when it finds nothing (MariaDB ignores words under 3 letters and
        stopwords), a substring match on the longest words."""
        dialect = self.db.dialect
        models = f"g.model_id IN ({', '.join('?' for _ in model_ids)})"
        sql = dialect.search(PAIRS, column, models, "g.prompt, g.response")
        hits = await self.db.fetchall(sql, dialect.search_params(dialect.search_query(words), tuple(model_ids), limit))
        if not hits:
            longest = sorted(words, key=lambda w: (-len(w), w))[:LIKE_WORDS]
            likes = " OR ".join(f"LOWER(g.{column}) LIKE ? ESCAPE '!'" for _ in longest)
            patterns = ["%" + w.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%" for w in longest]
            hits = await self.db.fetchall(f"SELECT g.id, 0, g.prompt, g.response FROM pairs g WHERE {models} "
                                          f"AND ({likes}) ORDER BY g.id LIMIT ?", (*model_ids, *patterns, limit))
        return [(pair_id, prompt, response, float(score)) for pair_id, score, prompt, response in hits]

    async def pair_texts(self, model_id: int, limit: int) -> list[tuple[int, str, str, str | None]]:
        """The newest ``limit`` (id, prompt, response, message key) pairs of a model, newest first."""
        rows = await self.db.fetchall("SELECT id, prompt, response, message_key FROM pairs WHERE model_id = ? "
                                      "ORDER BY id DESC LIMIT ?", (model_id, limit))
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    async def taught_pairs(self, user_id: str, model_id: int | None = None) -> list[tuple[str, int, str, str]]:
        """The (model name, id, prompt, response) pairs ``user_id`` taught (of one model when
        ``model_id`` is given): approved corrections and uploaded dialogs, not channel messages."""
        scope, extra = ("", ()) if model_id is None else (" AND p.model_id = ?", (model_id,))
        rows = await self.db.fetchall("SELECT m.name, p.id, p.prompt, p.response FROM pairs p JOIN models m "
                                      f"ON m.id = p.model_id WHERE p.user_id = ? AND p.message_key IS NULL{scope} "
                                      "ORDER BY m.name, p.id", (user_id, *extra))
        return [(r[0], int(r[1]), r[2], r[3]) for r in rows]

    @staticmethod
    async def delete_pairs(tx: Transaction, pair_ids: Sequence[int]) -> int:
        """Inside ``tx`` (the switch to the build without them): delete pairs (and their sentence
        vectors); returns how many were there."""
        rows = [(pair_id,) for pair_id in pair_ids]
        await tx.executemany("DELETE FROM pair_vectors WHERE pair_id = ?", rows)
        return await tx.executemany("DELETE FROM pairs WHERE id = ?", rows)

    @staticmethod
    async def write_word_vectors(tx: Transaction, model_id: int, words: Sequence[str], weights: Sequence[float],
                                 vectors: Sequence[bytes]) -> None:
        """Inside ``tx`` (the switch to the build whose pairs they were counted from): replace a
        model's word vectors."""
        await tx.execute("DELETE FROM word_vectors WHERE model_id = ?", (model_id,))
        if words:
            await tx.insert_rows("word_vectors", ("model_id", "word", "weight", "vector"),
                                 [model_id, list(words), list(weights), list(vectors)])

    @staticmethod
    async def write_reply_words(tx: Transaction, model_id: int, words: Sequence[str], reply_words: Sequence[str],
                                scores: Sequence[float], pairs: Sequence[int]) -> None:
        """Inside ``tx`` (the switch to the build whose pairs they were counted from): replace a
        model's reply words."""
        await tx.execute("DELETE FROM reply_words WHERE model_id = ?", (model_id,))
        if words:
            await tx.insert_rows("reply_words", ("model_id", "word", "reply_word", "score", "pairs"),
                                 [model_id, list(words), list(reply_words), list(scores), list(pairs)])

    async def word_vectors(self, model_id: int) -> list[tuple[str, float, bytes]]:
        """A model's (word, weight, vector) rows."""
        rows = await self.db.fetchall("SELECT word, weight, vector FROM word_vectors WHERE model_id = ? "
                                      "ORDER BY word", (model_id,))
        return [(r[0], float(r[1]), bytes(r[2])) for r in rows]

    async def profile(self, model_id: int, name: str) -> dict[str, float] | None:
        row = await self.db.fetchone(f"SELECT {', '.join(PROFILE_COLUMNS)} FROM decode_profiles "
                                     "WHERE model_id = ? AND name = ?", (model_id, name))
        return dict(zip(PROFILE_COLUMNS, row)) if row else None

    async def decode_settings(self, model_id: int, name: str) -> DecodeSettings:
        """The decode profile ``name`` of a model, written with the defaults the first time, so
        that it can be read and tuned with SQL."""
        values = await self.profile(model_id, name)
        if values is None:
            values = asdict(DecodeSettings())
            await self.save_profile(model_id, name, values)
        return DecodeSettings(**{k: type(getattr(DecodeSettings, k))(v) for k, v in values.items()
                                 if v is not None})  # a column a later version added is NULL in old rows

    async def save_profile(self, model_id: int, name: str, values: dict[str, float]) -> None:
        columns = ("model_id", "name", *PROFILE_COLUMNS)
        async with self.db.transaction() as tx:
            await tx.execute(self.db.dialect.upsert("decode_profiles", columns, ("model_id", "name")),
                             (model_id, name, *(values[c] for c in PROFILE_COLUMNS)))

    async def set_fitted(self, model_id: int, column: str, value: float, defaults: dict[str, float]) -> None:
        """Set a fitted value in every decode profile of a model (the default profile, with
        ``defaults`` for its other columns, when it has none yet)."""
        assert column in PROFILE_COLUMNS
        async with self.db.transaction() as tx:
            if await tx.fetchall("SELECT name FROM decode_profiles WHERE model_id = ?", (model_id,)):
                await tx.execute(f"UPDATE decode_profiles SET {column} = ? WHERE model_id = ?", (value, model_id))
            else:
                values = {**defaults, column: value}
                await tx.execute(f"INSERT INTO decode_profiles (model_id, name, {', '.join(PROFILE_COLUMNS)}) "
                                 f"VALUES (?, 'default', {', '.join('?' for _ in PROFILE_COLUMNS)})",
                                 (model_id, *(values[c] for c in PROFILE_COLUMNS)))

    async def forget_user(self, user_id: str, model_id: int | None = None) -> dict[str, int]:
        """Delete everything tied to a user (in one model's rows when ``model_id`` is given):
        their conversations (with every message in them), their other messages, corrections,
        biases and learned pairs. Returns rows removed per table."""
        in_conversation = " AND conversation_id IN (SELECT id FROM conversations WHERE model_id = ?)"
        scope = {table: ("", ()) if model_id is None else (clause, (model_id,)) for table, clause in (
            ("biases", " AND model_id = ?"), ("corrections", in_conversation), ("messages", in_conversation),
            ("pairs", " AND model_id = ?"), ("conversations", " AND model_id = ?"))}
        removed: dict[str, int] = {}
        async with self.db.transaction() as tx:
            clause, extra = scope["conversations"]
            own = [r[0] for r in await tx.fetchall(f"SELECT id FROM conversations WHERE user_id = ?{clause}",
                                                   (user_id, *extra))]
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
