"""Models, their builds, the vocabulary and the n-gram tables (Level 1).

A model's n-gram statistics live in one build at a time. A new build is written beside the
active one and switched to in the same transaction, so readers always see a whole model; the
previous build's rows are deleted afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from dbslm.domain import COUNTS, PROBABILITIES, ModelInfo
from dbslm.ngram.count_tables import CountTables
from dbslm.ngram.kneser_ney import Discount
from dbslm.ngram.tables import ModelTables
from dbslm.store.build_rows import Purges, insert_in_parts, purge_build, write_count_rows, write_probability_rows
from dbslm.store.cold import ColdStorage
from dbslm.store.database import Database, Transaction, fetch_keyed
from dbslm.store.heads import Context, Head, read_context_stats, read_contexts, read_heads
from dbslm.store.remembered import RememberedCounts
from dbslm.text.vocab import CONTROL_TOKENS, Vocabulary

OnSwitch = Callable[[Transaction, int], Awaitable[None]]
# what a look-up returns per n-gram (0 for the columns of the other form)
ROW_VALUES = "g.count, COALESCE(g.logp, 0), COALESCE(g.backoff, 0), COALESCE(g.q, 0), COALESCE(g.adjusted, 0)"
VOCAB_COLUMNS = ("model_id", "id", "text", "control", "freq")


@dataclass
class NgramRows:
    """Columns of n-gram rows as read back (0 where NULL: ``adjusted`` in probability form,
    the others in count form; ``backoff`` for a row that is no context)."""

    n: np.ndarray
    ctx: np.ndarray
    word: np.ndarray
    count: np.ndarray
    logp: np.ndarray
    backoff: np.ndarray
    code: np.ndarray
    adjusted: np.ndarray


@dataclass
class VocabUpdate:
    """Vocabulary rows to insert or whose frequency changed."""

    ids: list[int]
    texts: list[str]
    freqs: list[int]


class ModelStore:
    """Reads and writes the Level 1 tables of one database."""

    def __init__(self, db: Database, cold: ColdStorage | None = None) -> None:
        self.db = db
        self.cold = cold
        self.remembered = RememberedCounts(self._identity)  # of the build this process wrote last
        self.purges = Purges()  # of builds a switch replaced (a closing store waits for them)

    async def _identity(self, build: int) -> tuple:
        row = await self.db.fetchone("SELECT created_at, version FROM builds WHERE id = ?", (build,))
        return tuple(row) if row else ()

    async def model(self, name: str) -> ModelInfo | None:
        return (await self.models([name])).get(name)

    async def trained_names(self) -> list[str]:
        """The names of the models that have an active build, in order."""
        rows = await self.db.fetchall("SELECT name FROM models WHERE active_build IS NOT NULL ORDER BY name")
        return [row[0] for row in rows]

    async def models(self, names: Sequence[str]) -> dict[str, ModelInfo]:
        """The models of those names that exist, by name (one query for a community and its base)."""
        rows = await self.db.fetchall(
            "SELECT m.id, m.name, m.ngram_order, m.tokenizer, m.active_build, b.source, b.form, "
            "COALESCE(b.version, 0) FROM models m "
            f"LEFT JOIN builds b ON b.id = m.active_build WHERE m.name IN ({', '.join('?' for _ in names)})",
            list(names),
        )
        return {row[1]: ModelInfo(*row) for row in rows}

    async def ensure_model(self, name: str, order: int, tokenizer: str) -> ModelInfo:
        """The model named ``name``, created without a build (with ``order`` and ``tokenizer``)
        when it does not exist yet, so that rows can belong to it before its first training."""
        async with self.db.transaction() as tx:
            await tx.insert_rows(
                "models",
                ("name", "ngram_order", "tokenizer", "active_build", "created_at"),
                [[name], order, tokenizer, None, time.time()],
                keep_on=("name",),
            )
        return await self.model(name)

    async def vocabulary(self, model: ModelInfo, *, every_word: bool = False) -> Vocabulary:
        """The model's vocabulary. Ids are stable, but only the active build's unigrams are
        known: a word whose count went to 0 (untrained) reads as ``<unk>``, like a word the
        model never saw. ``every_word`` knows every row (training reuses their ids)."""
        if not every_word:
            return (await self.vocabulary_with_counts(model))[0]
        if model.id is None:
            return Vocabulary()
        rows = await self.db.fetchall("SELECT text FROM vocab WHERE model_id = ? ORDER BY id", (model.id,))
        return Vocabulary(r[0] for r in rows)

    async def vocabulary_with_counts(self, model: ModelInfo) -> tuple[Vocabulary, dict[str, int]]:
        """The model's vocabulary as :meth:`vocabulary` gives it, and the trained count of each of
        its words (control tokens apart), from one read of its rows: a count-form build knows
        the words whose count is above 0 (its unigrams), without reading them."""
        if model.id is None:
            return Vocabulary(), {}
        rows = await self.db.fetchall("SELECT text, freq FROM vocab WHERE model_id = ? ORDER BY id", (model.id,))
        vocab = Vocabulary(r[0] for r in rows)
        counts = {text: int(freq) for text, freq in rows[len(CONTROL_TOKENS) :] if freq}
        if model.active_build is None:
            return vocab, counts
        known = (
            np.flatnonzero([freq for _, freq in rows])
            if model.counted
            else await self.unigram_words(model.active_build)
        )
        return vocab.restricted(known), counts

    async def unigram_words(self, build: int) -> np.ndarray:
        """Ids of the words the build knows (its unigrams)."""
        rows = await self.db.fetchall("SELECT word FROM ngrams WHERE build = ? AND n = 1", (build,))
        return np.array([r[0] for r in rows], dtype=np.int64)

    async def order_rows(self, build: int, n: int) -> NgramRows:
        """Every row of one order of a build."""
        parts = []
        async for batch in self.db.iterate(
            f"SELECT g.n, g.ctx, g.word, {ROW_VALUES} FROM ngrams g WHERE g.build = ? AND g.n = ?", (build, n)
        ):
            parts += batch
        if self.cold is not None:
            parts += await self.cold.order_rows(build, n)
        return _ngram_rows(parts)

    async def order_counts(self, build: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The context keys, words and counts of every n-gram of one order of a build."""
        grid = await self.db.integer_rows(
            ("g.ctx", "g.word", "g.count"),
            "ngrams g WHERE g.build = ? AND g.n = ?",
            (build, n),
            groups="g.ctx >> 52, g.word >> 10",
        )
        if self.cold is not None:
            cold = [r[1:4] for r in await self.cold.order_rows(build, n)]
            grid = np.concatenate((grid, np.array(cold, dtype=np.int64).reshape(-1, 3)))
        return grid[:, 0], grid[:, 1], grid[:, 2]

    async def lookup(self, build: int, n: np.ndarray, ctx: np.ndarray, word: np.ndarray) -> NgramRows:
        """The rows among the keys (n, ctx, word) that exist in a build (any order),
        following flushed contexts to cold storage."""
        keys = np.stack((n, ctx, word), axis=1).tolist()
        found = await fetch_keyed(
            self.db, f"g.n, g.ctx, g.word, {ROW_VALUES}", "ngrams", ("n", "ctx", "word"), keys, "g.build = ?", (build,)
        )
        if self.cold is not None and len(found) < len(keys):
            here = {tuple(r[:3]) for r in found}
            found += await self.cold.lookup(build, [k for k in keys if tuple(k) not in here])
        return _ngram_rows(found)

    async def adjusted_counts(self, build: int, keys: list[tuple[int, int, int]]) -> dict[tuple[int, int, int], int]:
        """The adjusted counts of the n-grams among ``keys`` (n, ctx, word) that a count-form
        build has (only that column: a reply reads many), following flushed contexts to cold storage."""
        select = "g.n, g.ctx, g.word, COALESCE(g.adjusted, 0)"
        found = await fetch_keyed(self.db, select, "ngrams", ("n", "ctx", "word"), keys, "g.build = ?", (build,))
        counts = {(n, ctx, word): adjusted for n, ctx, word, adjusted in found}
        if self.cold is not None and len(counts) < len(keys):
            for row in await self.cold.lookup(build, [k for k in keys if k not in counts]):
                counts[tuple(row[:3])] = row[7]  # (its rows end in the adjusted count)
        return counts

    async def heads(self, build: int, contexts: list[tuple[int, int]]) -> dict[tuple[int, int], Head]:
        """For each context (n, key): its best next words and their 8-bit codes (see
        :func:`read_heads`), following flushed contexts to cold storage."""
        result = await read_heads(self.db, "heads", "ngrams", contexts, "g.build = ?", (build,))
        if self.cold is not None:
            empty = [c for c, (words, _) in result.items() if len(words) == 0]
            if empty:
                result.update(await self.cold.heads(build, empty))
        return result

    async def contexts(self, build: int, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Context]:
        """The count-form contexts (n, key) among ``keys`` that some word follows (see
        :func:`read_contexts`), following flushed contexts to cold storage."""
        result = await read_contexts(self.db, "contexts", "ngrams", keys, "g.build = ?", (build,))
        if self.cold is not None and len(result) < len(keys):
            result.update(await self.cold.contexts(build, [k for k in keys if k not in result]))
        return result

    async def context_stats(self, build: int, n: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """Rows (n, ctx, total, n1, n2, n3) of the count-form contexts among the keys (n, ctx)
        (see :func:`read_context_stats`), following flushed contexts to cold storage."""
        keys = [tuple(key) for key in np.stack((n, ctx), axis=1).tolist()]
        found = await read_context_stats(self.db, "contexts", "ngrams", keys, "g.build = ?", (build,))
        if self.cold is not None and len(found) < len(keys):
            here = {row[:2] for row in found}
            found += await self.cold.context_stats(build, [k for k in keys if k not in here])
        return np.array(found, dtype=np.int64).reshape(-1, 6)

    async def touched(self, build: int, after: int) -> set[tuple[int, int]] | None:
        """The contexts (n, ctx) that the versions of ``build`` after ``after`` changed (None:
        some of those versions are no longer recorded)."""
        rows = await self.db.fetchall("SELECT MIN(version) FROM touched WHERE build = ?", (build,))
        oldest = rows[0][0] if rows else None
        if oldest is not None and oldest > after + 1:
            return None
        return {
            (n, ctx)
            for n, ctx in await self.db.fetchall(
                "SELECT n, ctx FROM touched WHERE build = ? AND version > ?", (build, after)
            )
        }

    async def quant_tables(self, build: int) -> dict[int, np.ndarray]:
        """Per order, the look-up table from 8-bit code to log10 probability."""
        rows = await self.db.fetchall("SELECT n, code, logp FROM quant WHERE build = ? ORDER BY n, code", (build,))
        tables: dict[int, list[float]] = {}
        for n, _, logp in rows:
            tables.setdefault(n, []).append(logp)
        return {n: np.array(v) for n, v in tables.items()}

    async def discounts(self, build: int) -> list[Discount]:
        rows = await self.db.fetchall(
            "SELECT n, t1, t2, t3, t4, d1, d2, d3, fallback, ngrams FROM discounts WHERE build = ? ORDER BY n", (build,)
        )
        return [Discount(r[0], tuple(r[1:5]), tuple(r[5:8]), bool(r[8]), r[9] or 0) for r in rows]

    async def build_counts(self, build: int) -> dict[int, int]:
        """Number of n-grams per order in a build."""
        rows = await self.db.fetchall("SELECT n, COUNT(*) FROM ngrams WHERE build = ? GROUP BY n", (build,))
        return {n: c for n, c in rows}

    async def build_summary(self, model: ModelInfo) -> tuple[int, float | None]:
        """The tokens the model's counts hold and when its active build went live."""
        tokens = await self.db.fetchone(
            "SELECT COALESCE(SUM(freq), 0) FROM vocab WHERE model_id = ? AND control = 0", (model.id,)
        )
        built = await self.db.fetchone("SELECT finished_at FROM builds WHERE id = ?", (model.active_build,))
        return int(tokens[0]), (float(built[0]) if built and built[0] is not None else None)

    async def write_first_vocabulary(self, model: ModelInfo, vocab: VocabUpdate) -> int:
        """Write the whole vocabulary of a model without a build yet, creating its row if it is
        new; returns its id. Nobody reads it before the model's first switch, so a training
        writes it while the text is counted (and passes no vocabulary to :meth:`write_build`)."""
        model_id = model.id
        async with self.db.transaction() as tx:
            if model_id is None:
                model_id = await _create_model(tx, model, model.order)
            await tx.execute("DELETE FROM vocab WHERE model_id = ?", (model_id,))
        await insert_in_parts(
            self.db,
            "vocab",
            VOCAB_COLUMNS,
            [model_id, vocab.ids, vocab.texts, [int(i < len(CONTROL_TOKENS)) for i in vocab.ids], vocab.freqs],
        )
        return model_id

    async def write_build(
        self,
        model: ModelInfo,
        tables: CountTables | ModelTables | None,
        vocab: VocabUpdate | None,
        *,
        replace_vocab: bool,
        source: str,
        sentences: int,
        tokens: int,
        on_switch: OnSwitch | None = None,
    ) -> int | None:
        """Write a complete new build and make it the model's active one.

        ``tables`` are in count form (:class:`CountTables`) or store probabilities (an ARPA
        import). Three steps: claim a build id (creating the model row if needed); write the build's
        rows (and the vocabulary of a model without a build yet), which nobody reads until the
        switch; then, in one transaction, update the vocabulary and switch. Interrupted
        anywhere, the previous build keeps serving and the leftovers are purged by the next
        run. The caller holds the model's training lock.
        ``vocab`` is None for a model without a build whose vocabulary
        :meth:`write_first_vocabulary` wrote already.
        With ``tables`` None (an existing model left without n-grams) no build is written:
        the switch retires the active build and the model has none (untrained). ``on_switch``
        runs inside the switch transaction (with it and the model id): rows that must change
        exactly when the model does.
        """
        model_id, build, order = model.id, None, model.order
        if tables is not None:
            order = tables.order
            async with self.db.transaction() as tx:
                if model_id is None:
                    model_id = await _create_model(tx, model, order)
                form = COUNTS if isinstance(tables, CountTables) else PROBABILITIES
                build = await tx.execute(
                    "INSERT INTO builds (model_id, status, source, ngram_order, sentences, tokens, created_at, form, "
                    "version, head_size) VALUES (?, 'building', ?, ?, ?, ?, ?, ?, 0, ?)",
                    (
                        model_id,
                        source,
                        order,
                        sentences,
                        tokens,
                        time.time(),
                        form,
                        tables.head_size if form == COUNTS else None,
                    ),
                )
            if form == COUNTS:
                await write_count_rows(self.db, build, tables)
            else:
                await write_probability_rows(self.db, build, tables)
        unread = model.active_build is None  # nobody reads the vocabulary of a model before its first switch
        if unread and vocab is not None:  # so it is written beside the build's rows, not in the switch
            await self.write_first_vocabulary(replace(model, id=model_id), vocab)
        async with self.db.transaction() as tx:
            if replace_vocab and not unread:
                await tx.execute("DELETE FROM vocab WHERE model_id = ?", (model_id,))
            if not unread:
                await write_vocab(tx, model_id, vocab)
            replaced = await tx.executemany(  # (executemany says how many rows changed)
                "UPDATE builds SET status = 'retired' WHERE model_id = ? AND status = 'active'", [(model_id,)]
            )
            await tx.execute("UPDATE builds SET status = 'active', finished_at = ? WHERE id = ?", (time.time(), build))
            await tx.execute(
                "UPDATE models SET active_build = ?, ngram_order = ?, tokenizer = ? WHERE id = ?",
                (build, order, model.tokenizer, model_id),
            )
            if on_switch is not None:
                await on_switch(tx, model_id)
        await self.purge_inactive(model_id, retired=False)  # what interrupted runs left, under the training lock
        if replaced:  # the replaced build, deleted while the caller goes on
            self.purges.start(self.purge_inactive(model_id, retired=True))
        return build

    async def clean_up(self) -> list[str]:
        """Remove what interrupted trainings left (builds half-written or retired but not
        purged) of every model that no process is training now; a line for each model cleaned."""
        cleaned = []
        for model_id, name, builds in await self.db.fetchall(
            "SELECT m.id, m.name, COUNT(*) FROM builds b JOIN models m ON m.id = b.model_id "
            "WHERE b.id <> COALESCE(m.active_build, -1) GROUP BY m.id, m.name ORDER BY m.name"
        ):
            async with self.db.lock(f"train:{name}", wait=False) as held:
                if held:
                    rows = await self.purge_inactive(model_id)
                    cleaned.append(
                        f"model {name!r}: removed {builds} unfinished or replaced build(s) that an "
                        f"interrupted training left, {rows:,} n-gram rows"
                    )
        return cleaned

    async def purge_inactive(self, model_id: int, retired: bool | None = None) -> int:
        """Delete the rows of a model's retired builds and of builds left half-written (only
        the retired ones, or only the others, as ``retired`` says); returns how many n-gram
        rows they had."""
        which, status = ("", ()) if retired is None else (f" AND b.status {'=' if retired else '<>'} ?", ("retired",))
        builds = [
            r[0]
            for r in await self.db.fetchall(
                "SELECT b.id FROM builds b JOIN models m ON m.id = b.model_id "
                f"WHERE b.model_id = ? AND b.id <> COALESCE(m.active_build, -1){which}",
                (model_id, *status),
            )
        ]
        if self.cold is not None:
            await self.cold.purge(builds)
        return sum([await purge_build(self.db, build) for build in builds])


async def _create_model(tx: Transaction, model: ModelInfo, order: int) -> int:
    """Insert the row of a new model, untrained (no active build); returns its id."""
    return await tx.execute(
        "INSERT INTO models (name, ngram_order, tokenizer, active_build, created_at) VALUES (?, ?, ?, NULL, ?)",
        (model.name, order, model.tokenizer, time.time()),
    )


async def write_vocab(tx: Transaction, model_id: int, vocab: VocabUpdate) -> None:
    """Insert the vocabulary rows, or update those that exist, inside ``tx``."""
    await tx.executemany(
        tx.dialect.upsert("vocab", VOCAB_COLUMNS, ("model_id", "id")),
        [(model_id, i, t, int(i < len(CONTROL_TOKENS)), f) for i, t, f in zip(vocab.ids, vocab.texts, vocab.freqs)],
    )


def _ngram_rows(rows: list[tuple]) -> NgramRows:
    """Rows (n, ctx, word, count, logp, backoff, q, adjusted) as columns."""
    grid = np.array(rows, dtype=object).reshape(-1, 8)
    types = (np.int64, np.int64, np.int64, np.int64, np.float64, np.float64, np.uint8, np.int64)
    return NgramRows(*(grid[:, i].astype(kind) for i, kind in enumerate(types)))
