"""A count-form build changed in place by a batch: the rows it reads, and its one write.

Readers see the whole batch or none of it (one transaction), and learn which contexts it
changed from the build's version and the ``touched`` rows of that version. The caller holds
the model's training lock, so nothing else changes these rows between the reads and the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dbslm.domain import COUNTS
from dbslm.ngram.count_probs import follower_stats
from dbslm.ngram.kneser_ney import Discount
from dbslm.store.build_rows import CONTEXT_COLUMNS
from dbslm.store.database import Database, fetch_keyed
from dbslm.store.heads import read_followers
from dbslm.store.models import OnSwitch, VocabUpdate, write_vocab

TOUCHED_KEPT = 200  # versions of a build whose touched contexts are kept: a reader further behind starts afresh
NGRAM_KEY = ("build", "n", "ctx", "word")


@dataclass(frozen=True)
class StoredContext:
    """A context's statistics (total, n1, n2, n3), its head if it has one, and, when it has no
    ``contexts`` row (a context without a head: its n-gram rows give its statistics), every word
    that follows it with its adjusted count."""

    stats: tuple[int, int, int, int]
    head: tuple[np.ndarray, np.ndarray] | None
    followers: list[tuple[int, int]] | None  # (word, adjusted count) pairs; None: it has a row

    @property
    def has_row(self) -> bool:
        return self.followers is None


@dataclass
class Delta:
    """What a batch writes: its n-grams' new counts (count 0: the row goes), the new rows of
    its contexts that have a head, the rows of those that lost theirs (they go), every context
    it changed, the discounts, the vocabulary rows and the text's size."""

    n: np.ndarray
    ctx: np.ndarray
    word: np.ndarray
    count: np.ndarray
    adjusted: np.ndarray
    contexts: list[tuple[int, int, tuple[int, int, int, int], tuple[bytes, bytes]]]
    dropped: list[tuple[int, int]]
    touched: list[tuple[int, int]]
    discounts: list[Discount]
    vocab: VocabUpdate
    sentences: int
    tokens: int


class DeltaStore:
    """The reads and the one write of a batch changing a count-form build in place."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def changeable(self, build: int) -> tuple[int, int] | None:
        """The version and head size of a count-form build that a batch can change in place
        (None: it must be written anew, e.g. some of its contexts are in cold storage)."""
        row = await self.db.fetchone(
            "SELECT b.version, b.head_size FROM builds b WHERE b.id = ? AND b.form = ? AND "
            "NOT EXISTS (SELECT 1 FROM flushed f WHERE f.build = b.id)",
            (build, COUNTS),
        )
        return None if row is None or row[1] is None else (int(row[0] or 0), int(row[1]))

    async def counts(
        self, build: int, n: np.ndarray, ctx: np.ndarray, word: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The raw and adjusted counts of the n-grams (n, ctx, word) (0 for those not in the build)."""
        keys = np.stack((n, ctx, word), axis=1)
        found = await fetch_keyed(
            self.db,
            "g.n, g.ctx, g.word, g.count, g.adjusted",
            "ngrams",
            ("n", "ctx", "word"),
            keys.tolist(),
            "g.build = ?",
            (build,),
            chunk=self.db.dialect.max_params // 4,
        )
        stored = {(a, b, c): (d, e) for a, b, c, d, e in found}
        pairs = [stored.get(key, (0, 0)) for key in map(tuple, keys.tolist())]
        return (
            np.array([p[0] for p in pairs], dtype=np.int64).reshape(-1),
            np.array([p[1] for p in pairs], dtype=np.int64).reshape(-1),
        )

    async def contexts(self, build: int, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], StoredContext]:
        """The statistics and heads of those contexts (n, ctx) that some word follows."""
        rows = await fetch_keyed(
            self.db,
            "g.n, g.ctx, g.total, g.n1, g.n2, g.n3, g.head_words, g.head_counts",
            "contexts",
            ("n", "ctx"),
            keys,
            "g.build = ?",
            (build,),
            chunk=self.db.dialect.max_params // 3,
        )
        found = {
            (n, ctx): StoredContext(
                (total, n1, n2, n3),
                None
                if words is None
                else (
                    np.frombuffer(words, dtype="<i4").astype(np.int64),
                    np.frombuffer(counts, dtype="<i4").astype(np.int64),
                ),
                None,
            )
            for n, ctx, total, n1, n2, n3, words, counts in rows
        }
        for key, followers in (await self.followers(build, [k for k in keys if k not in found])).items():
            found[key] = StoredContext(follower_stats([a for _, a in followers]), None, followers)
        return found

    async def followers(
        self, build: int, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], list[tuple[int, int]]]:
        """Every word that follows each context (n, ctx) with its adjusted count, for those some word follows."""
        return await read_followers(self.db, "ngrams", keys, "g.build = ?", (build,))

    async def write(self, model_id: int, build: int, version: int, delta: Delta, on_switch: OnSwitch | None) -> None:
        """Apply ``delta`` to the build in one transaction and make it version ``version + 1``."""
        keep = delta.count > 0
        gone = [
            (build, n, c, w)
            for n, c, w in zip(delta.n[~keep].tolist(), delta.ctx[~keep].tolist(), delta.word[~keep].tolist())
        ]
        async with self.db.transaction() as tx:
            await tx.insert_rows(
                "ngrams",
                (*NGRAM_KEY, "count", "adjusted"),
                [build, delta.n[keep], delta.ctx[keep], delta.word[keep], delta.count[keep], delta.adjusted[keep]],
                update_on=NGRAM_KEY,
            )
            if gone:
                await tx.executemany("DELETE FROM ngrams WHERE build = ? AND n = ? AND ctx = ? AND word = ?", gone)
            await tx.insert_rows(
                "contexts",
                CONTEXT_COLUMNS,
                [
                    build,
                    *([c[0] for c in delta.contexts], [c[1] for c in delta.contexts]),
                    *([c[2][i] for c in delta.contexts] for i in range(4)),
                    *([c[3][i] for c in delta.contexts] for i in range(2)),
                ],
                update_on=CONTEXT_COLUMNS[:3],
            )
            if delta.dropped:
                await tx.executemany(
                    "DELETE FROM contexts WHERE build = ? AND n = ? AND ctx = ?", [(build, *c) for c in delta.dropped]
                )
            await tx.executemany(
                "UPDATE discounts SET t1 = ?, t2 = ?, t3 = ?, t4 = ?, d1 = ?, d2 = ?, d3 = ?, "
                "fallback = ?, ngrams = ? WHERE build = ? AND n = ?",
                [(*d.t, *(float(x) for x in d.d), int(d.fallback), d.ngrams, build, d.n) for d in delta.discounts],
            )
            await write_vocab(tx, model_id, delta.vocab)
            await tx.execute(
                "UPDATE builds SET version = ?, sentences = sentences + ?, tokens = tokens + ? WHERE id = ?",
                (version + 1, delta.sentences, delta.tokens, build),
            )
            await tx.insert_rows(
                "touched",
                ("build", "version", "n", "ctx"),
                [build, version + 1, [c[0] for c in delta.touched], [c[1] for c in delta.touched]],
            )
            await tx.execute(
                "DELETE FROM touched WHERE build = ? AND version <= ?", (build, version + 1 - TOUCHED_KEPT)
            )
            if on_switch is not None:
                await on_switch(tx, model_id)
