"""The concept catalog and conversation signals (Level 3)."""

from __future__ import annotations

import time

from dbslm.domain import Concept
from dbslm.store.database import Database

SHARED_MODEL_ID = 0  # concepts every model has


class ConceptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def concepts(self, model_id: int) -> list[Concept]:
        """The model's concepts; ``model_id`` 0 holds the defaults every model shares."""
        rows = await self.db.fetchall(
            "SELECT name, examples, template, payload, threshold FROM concepts WHERE model_id IN (?, ?) "
            "ORDER BY model_id DESC, name",
            (SHARED_MODEL_ID, model_id),
        )
        seen: dict[str, Concept] = {}
        for name, examples, template, payload, threshold in rows:
            seen.setdefault(
                name, Concept(name, [e for e in examples.split("\n") if e.strip()], template, payload, threshold)
            )
        return list(seen.values())

    async def add_concept(self, model_id: int, concept: Concept) -> None:
        columns = ("model_id", "name", "examples", "template", "payload", "threshold")
        async with self.db.transaction() as tx:
            await tx.execute(
                self.db.dialect.upsert("concepts", columns, ("model_id", "name")),
                (
                    model_id,
                    concept.name,
                    "\n".join(concept.examples),
                    concept.template,
                    concept.payload,
                    concept.threshold,
                ),
            )

    async def signal(self, conversation_id: int, concept: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO concept_signals (conversation_id, concept, created_at) VALUES (?, ?, ?)",
                (conversation_id, concept, time.time()),
            )

    async def take_signal(self, conversation_id: int) -> str | None:
        """The oldest pending signal of a conversation, consumed (a write only when there is one:
        every reply asks)."""
        rows = await self.db.fetchall(
            "SELECT id, concept FROM concept_signals WHERE conversation_id = ? ORDER BY id LIMIT 1", (conversation_id,)
        )
        if not rows:
            return None
        async with self.db.transaction() as tx:
            taken = await tx.executemany("DELETE FROM concept_signals WHERE id = ?", [(rows[0][0],)])
        return rows[0][1] if taken else None  # a concurrent reply took it first
