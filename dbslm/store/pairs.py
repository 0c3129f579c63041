"""Dialog pairs kept for retrieval (taught, corrected or learned from channels), their sentence
vectors, and the word vectors and reply words counted from them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from dbslm.store.database import Database, Transaction
from dbslm.store.schema import TABLES

PAIRS = next(t for t in TABLES if t.name == "pairs")
LIKE_WORDS = 4


class PairStore:
    """The pair tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def add_pairs(
        tx: Transaction, model_id: int, pairs: Sequence[tuple[str, str]], source: str, user_id: str | None = None
    ) -> None:
        """Inside ``tx`` (the switch to the build that learned them): keep pairs for retrieval,
        with their metadata (a :class:`DialogPair`'s ``meta``) as JSON."""
        if not pairs:
            return
        meta = [json.dumps(p.meta, ensure_ascii=False) if getattr(p, "meta", None) else None for p in pairs]
        await tx.insert_rows(
            "pairs",
            ("model_id", "prompt", "response", "source", "user_id", "meta"),
            [
                [model_id] * len(pairs),
                [p for p, _ in pairs],
                [r for _, r in pairs],
                [source] * len(pairs),
                [user_id] * len(pairs),
                meta,
            ],
        )

    @staticmethod
    async def clear_pairs(tx: Transaction, model_id: int) -> None:
        """Inside ``tx`` (the switch to a build trained from scratch): no pair is the model's any more."""
        await tx.execute(
            "DELETE FROM pair_vectors WHERE pair_id IN (SELECT id FROM pairs WHERE model_id = ?)", (model_id,)
        )
        await tx.execute("DELETE FROM pairs WHERE model_id = ?", (model_id,))

    async def pair_vectors(self, embedder: str, pair_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored vectors of those pairs' prompts that ``embedder`` made."""
        if not pair_ids:
            return {}
        marks = ", ".join("?" for _ in pair_ids)
        rows = await self.db.fetchall(
            f"SELECT pair_id, vector FROM pair_vectors WHERE embedder = ? AND pair_id IN ({marks})",
            (embedder, *pair_ids),
        )
        return {int(r[0]): bytes(r[1]) for r in rows}

    async def save_pair_vectors(self, embedder: str, vectors: dict[int, bytes]) -> None:
        if not vectors:
            return
        async with self.db.transaction() as tx:
            await tx.insert_rows(
                "pair_vectors",
                ("pair_id", "embedder", "vector"),
                [list(vectors), [embedder] * len(vectors), list(vectors.values())],
                update_on=("pair_id", "embedder"),
            )

    async def search_pairs(
        self, model_ids: Sequence[int], words: list[str], limit: int, column: str = "prompt"
    ) -> list[tuple[int, int, str, str, float]]:
        """Pairs (id, model id, prompt, response, index score) of the models ``model_ids`` whose
        ``column`` (prompt or response) shares words with ``words`` in the full-text index, best
        first (MariaDB's index skips words under 3 letters and stopwords, and its scores do not
        weigh a text's length: of equal scores, the shortest text comes first)."""
        dialect = self.db.dialect
        sql = dialect.search(PAIRS, column, _of_models(model_ids), "g.model_id, g.prompt, g.response")
        hits = await self.db.fetchall(sql, dialect.search_params(dialect.search_query(words), tuple(model_ids), limit))
        return [
            (pair_id, model_id, prompt, response, float(score)) for pair_id, score, model_id, prompt, response in hits
        ]

    async def pairs_containing(
        self, model_ids: Sequence[int], words: list[str], limit: int, column: str = "prompt"
    ) -> list[tuple[int, int, str, str, float]]:
        """Pairs (id, model id, prompt, response, score 0) of the models ``model_ids`` whose ``column``
        holds one of the longest of ``words``, oldest first, when the full-text index skips
        every one of them (MariaDB: words under 3 letters and stopwords, as in "is it so?";
        SQLite's index holds every word). A substring match reads pair after pair, and where
        the index saw a word and found nothing, the stopwords would only find every pair."""
        skipped = self.db.dialect.unindexed(words)
        if not skipped or len(skipped) < len(words):
            return []
        longest = sorted(skipped, key=lambda w: (-len(w), w))[:LIKE_WORDS]
        holds = " OR ".join(self.db.dialect.contains(f"g.{column}") for _ in longest)
        patterns = ["%" + w.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%" for w in longest]
        hits = await self.db.fetchall(
            f"SELECT g.id, g.model_id, g.prompt, g.response FROM pairs g WHERE {_of_models(model_ids)} "
            f"AND ({holds}) ORDER BY g.id LIMIT ?",
            (*model_ids, *patterns, limit),
        )
        return [(pair_id, model_id, prompt, response, 0.0) for pair_id, model_id, prompt, response in hits]

    async def pair_texts(self, model_id: int, limit: int) -> list[tuple[int, str, str, str | None]]:
        """The newest ``limit`` (id, prompt, response, message key) pairs of a model, newest first."""
        rows = await self.db.fetchall(
            "SELECT id, prompt, response, message_key FROM pairs WHERE model_id = ? ORDER BY id DESC LIMIT ?",
            (model_id, limit),
        )
        return [(int(r[0]), r[1], r[2], r[3]) for r in rows]

    async def taught_pairs(self, user_id: str, model_id: int | None = None) -> list[tuple[str, int, str, str]]:
        """The (model name, id, prompt, response) pairs ``user_id`` taught (of one model when
        ``model_id`` is given): approved corrections and uploaded dialogs, not channel messages."""
        scope, extra = ("", ()) if model_id is None else (" AND p.model_id = ?", (model_id,))
        rows = await self.db.fetchall(
            "SELECT m.name, p.id, p.prompt, p.response FROM pairs p JOIN models m "
            f"ON m.id = p.model_id WHERE p.user_id = ? AND p.message_key IS NULL{scope} "
            "ORDER BY m.name, p.id",
            (user_id, *extra),
        )
        return [(r[0], int(r[1]), r[2], r[3]) for r in rows]

    @staticmethod
    async def delete_pairs(tx: Transaction, pair_ids: Sequence[int]) -> int:
        """Inside ``tx`` (the switch to the build without them): delete pairs (and their sentence
        vectors); returns how many were there."""
        rows = [(pair_id,) for pair_id in pair_ids]
        await tx.executemany("DELETE FROM pair_vectors WHERE pair_id = ?", rows)
        return await tx.executemany("DELETE FROM pairs WHERE id = ?", rows)

    @staticmethod
    async def write_word_vectors(
        tx: Transaction, model_id: int, words: Sequence[str], weights: Sequence[float], vectors: Sequence[bytes]
    ) -> None:
        """Inside ``tx`` (the switch to the build whose pairs they were counted from): replace a
        model's word vectors."""
        await tx.execute("DELETE FROM word_vectors WHERE model_id = ?", (model_id,))
        if words:
            await tx.insert_rows(
                "word_vectors",
                ("model_id", "word", "weight", "vector"),
                [model_id, list(words), list(weights), list(vectors)],
            )

    @staticmethod
    async def write_reply_words(
        tx: Transaction,
        model_id: int,
        words: Sequence[str],
        reply_words: Sequence[str],
        scores: Sequence[float],
        pairs: Sequence[int],
    ) -> None:
        """Inside ``tx`` (the switch to the build whose pairs they were counted from): replace a
        model's reply words."""
        await tx.execute("DELETE FROM reply_words WHERE model_id = ?", (model_id,))
        if words:
            await tx.insert_rows(
                "reply_words",
                ("model_id", "word", "reply_word", "score", "pairs"),
                [model_id, list(words), list(reply_words), list(scores), list(pairs)],
            )

    async def reply_words_of(self, model_ids: Sequence[int], words: Sequence[str]) -> dict[str, dict[str, float]]:
        """The reply words each of ``words`` calls for in the models ``model_ids``, with the best
        score a model gives each (a word that calls for none is left out)."""
        if not words or not model_ids:
            return {}
        rows = await self.db.fetchall(
            "SELECT word, reply_word, MAX(score) FROM reply_words "
            f"WHERE model_id IN ({', '.join('?' for _ in model_ids)}) AND word IN ({', '.join('?' for _ in words)}) "
            "GROUP BY word, reply_word",
            (*model_ids, *words),
        )
        found: dict[str, dict[str, float]] = {}
        for word, reply_word, score in rows:
            found.setdefault(word, {})[reply_word] = float(score)
        return found

    async def word_vectors(self, model_id: int) -> list[tuple[str, float, bytes]]:
        """A model's (word, weight, vector) rows."""
        rows = await self.db.fetchall(
            "SELECT word, weight, vector FROM word_vectors WHERE model_id = ? ORDER BY word", (model_id,)
        )
        return [(r[0], float(r[1]), bytes(r[2])) for r in rows]


def _of_models(model_ids: Sequence[int]) -> str:
    """The condition that a pair ``g`` belongs to one of ``model_ids`` (bound as parameters)."""
    return f"g.model_id IN ({', '.join('?' for _ in model_ids)})"
