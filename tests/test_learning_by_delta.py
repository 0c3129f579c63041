"""Learning by delta: small batches change a count-form build in place, and the result is the
build a training of the whole text writes, row for row; forgetting in place is exact too."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dbslm.engine import DBSLMEngine
from dbslm.evaluation import evaluate
from dbslm.reading.reader import ModelReader
from dbslm.store import Store, open_store
from dbslm.text.vocab import BOS
from dbslm.training.builds import resolve_model, train, untrain
from tests.helpers import LINES, TEST_TEXT, assert_same_model, execute, ngrams_by_text, table_rows

HEAD = 4  # small heads, so that batches move words in and out of them
ROWS = (
    "SELECT g.n, g.ctx, g.word, g.count, g.adjusted FROM ngrams g JOIN models m ON m.active_build = g.build "
    "WHERE m.name = 'NAME' ORDER BY g.n, g.ctx, g.word"
)
CONTEXTS = (
    "SELECT c.n, c.ctx, c.total, c.n1, c.n2, c.n3, c.head_words, c.head_counts FROM contexts c "
    "JOIN models m ON m.active_build = c.build WHERE m.name = 'NAME' ORDER BY c.n, c.ctx"
)
DISCOUNTS = (
    "SELECT d.n, d.t1, d.t2, d.t3, d.t4, d.d1, d.d2, d.d3, d.fallback, d.ngrams FROM discounts d "
    "JOIN models m ON m.active_build = d.build WHERE m.name = 'NAME' ORDER BY d.n"
)
VOCAB = (
    "SELECT v.id, v.text, v.freq FROM vocab v JOIN models m ON m.id = v.model_id WHERE m.name = 'NAME' ORDER BY v.id"
)


async def learn(store: Store, name: str, sentences: list[list[str]]) -> int | None:
    model = await resolve_model(store, name, 3, "whitespace", reset=False)
    return (await train(store, model, sentences, head_size=HEAD)).build


def same_rows(db: str, a: str, b: str) -> None:
    for query in (ROWS, CONTEXTS, DISCOUNTS, VOCAB):
        assert table_rows(db, query.replace("NAME", a)) == table_rows(db, query.replace("NAME", b)), query


async def test_batches_learned_in_place_give_the_build_of_the_whole_text(db):
    async with await open_store(db) as store:
        build = await learn(store, "batched", LINES[:200])
        for line in LINES[200:]:
            assert await learn(store, "batched", [line]) == build  # in place: the same build
        await learn(store, "whole", LINES)
        same_rows(db, "batched", "whole")
        assert table_rows(db, "SELECT version FROM builds WHERE id = ?", (build,)) == [(40,)]
        assert table_rows(db, "SELECT COUNT(DISTINCT version) FROM touched WHERE build = ?", (build,)) == [(40,)]
        batched, whole = await store.models.model("batched"), await store.models.model("whole")
        assert await evaluate(store, batched, TEST_TEXT) == await evaluate(store, whole, TEST_TEXT)


async def test_forgetting_in_place_gives_the_model_trained_without(db):
    kept, forgotten = LINES[:200] + LINES[220:], LINES[200:220]
    async with await open_store(db) as store:
        build = await learn(store, "forgot", LINES)
        for line in forgotten:
            model = await store.models.model("forgot")
            assert (await untrain(store, model, [line], head_size=HEAD)).build == build
        await learn(store, "without", kept)
        assert_same_model(await ngrams_by_text(store, "forgot"), await ngrams_by_text(store, "without"))
        forgot, without = await store.models.model("forgot"), await store.models.model("without")
        assert [d.t for d in await store.models.discounts(forgot.active_build)] == [
            d.t for d in await store.models.discounts(without.active_build)
        ]
        a, b = await evaluate(store, forgot, TEST_TEXT), await evaluate(store, without, TEST_TEXT)
        assert (a.tokens, a.oovs) == (b.tokens, b.oovs)
        assert a.log10_prob == pytest.approx(b.log10_prob, abs=1e-9)


async def test_a_build_with_a_row_for_every_context_reads_and_learns_as_one_without(db):
    """Builds written before contexts without a head lost their rows keep those rows: readers
    take them as if absent, and a batch in place drops the rows of the contexts it changes."""
    old, new = CONTEXTS.replace("NAME", "old"), CONTEXTS.replace("NAME", "new")
    async with await open_store(db) as store:
        await learn(store, "old", LINES[:200])
        await learn(store, "new", LINES[:200])
        execute(
            db,
            "INSERT INTO contexts (build, n, ctx, total, n1, n2, n3) SELECT g.build, g.n, g.ctx, SUM(g.adjusted), "
            "SUM(CASE WHEN g.adjusted = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN g.adjusted = 2 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN g.adjusted >= 3 THEN 1 ELSE 0 END) FROM ngrams g JOIN models m ON m.active_build = g.build "
            "WHERE m.name = 'old' AND NOT EXISTS (SELECT 1 FROM contexts c WHERE c.build = g.build AND c.n = g.n "
            "AND c.ctx = g.ctx) GROUP BY g.build, g.n, g.ctx",
        )
        headless = [row for row in table_rows(db, old) if row[6] is None]
        assert len(headless) > len(table_rows(db, new))  # the old layout: a row for every context
        for line in LINES[200:]:
            await learn(store, "old", [line])
            await learn(store, "new", [line])
        kept = table_rows(db, old)
        assert [row for row in kept if row[6] is not None] == table_rows(db, new)
        assert 0 < len(kept) - len(table_rows(db, new)) < len(headless)  # the changed contexts' rows went
        old_model, new_model = await store.models.model("old"), await store.models.model("new")
        assert await evaluate(store, old_model, TEST_TEXT) == await evaluate(store, new_model, TEST_TEXT)
        reader = await ModelReader.open(store.models, old_model, HEAD)
        fresh = await ModelReader.open(store.models, new_model, HEAD)
        for history in ([1], [1, 5], [1, 5, 6], [1, 7, 8]):
            words, logp = await reader.candidates(history)
            expected_words, expected = await fresh.candidates(history)
            assert words.tolist() == expected_words.tolist() and np.array_equal(logp, expected)


async def test_a_reader_follows_the_batches_without_starting_afresh(tmp_path):
    async with await open_store(str(tmp_path / "m.sqlite3")) as store:
        await learn(store, "m", LINES[:200])
        reader = await ModelReader.open(store.models, await store.models.model("m"), HEAD)
        histories = [[1, *store_ids] for store_ids in ([], [5], [5, 6], [7, 8])]
        for history in histories:
            await reader.candidates(history)
        for line in LINES[200:210]:
            await learn(store, "m", [line])
        model = await store.models.model("m")
        assert await reader.refresh(model)
        fresh = await ModelReader.open(store.models, model, HEAD)
        for history in histories:  # the same, the discounts of 10 lines ago apart (within DISCOUNT_DRIFT)
            (words, logp), (expected_words, expected) = (
                await reader.candidates(history),
                await fresh.candidates(history),
            )
            assert words.tolist() == expected_words.tolist()
            assert np.allclose(logp, expected, rtol=0, atol=0.01)
        reader.discounts = []  # as if they had drifted
        await learn(store, "m", LINES[210:211])
        assert await reader.refresh(await store.models.model("m"))
        fresh = await ModelReader.open(store.models, await store.models.model("m"), HEAD)
        for history in histories:
            (words, logp), (expected_words, expected) = (
                await reader.candidates(history),
                await fresh.candidates(history),
            )
            assert words.tolist() == expected_words.tolist() and np.array_equal(logp, expected)


async def test_replies_answer_from_the_version_before_while_a_batch_loads(tmp_path):
    path = str(tmp_path / "m.sqlite3")
    serving, learning = await DBSLMEngine.open(path), await DBSLMEngine.open(path)  # two processes' engines
    try:
        await serving.train_text([" ".join(line) for line in LINES[:200]], order=3, tokenizer="whitespace")
        before = await serving.replier.load()
        start = [BOS, before.vocab.index[LINES[0][0]]]
        await before.reader.candidates(start)
        # in place: the same build, its next version, with a word the version before lacks after a known one
        await learning.train_text([" ".join(LINES[200]), f"{LINES[0][0]} quokka", f"{LINES[0][0]} quokka"])
        model = await serving.store.models.model("base")
        assert model.active_build == before.builds[0] and model.version == before.builds[1] + 1
        first, second = await asyncio.gather(serving.replier.load(), serving.replier.load())
        # the load whose read of the model comes back first reloads (the two reads go to the two
        # reading connections, so either may); the other answers from the version before
        loading, meanwhile = (first, second) if first is not before else (second, first)
        assert loading.builds == (model.active_build, model.version)
        assert meanwhile is before  # did not wait for the reload
        assert await serving.replier.load() is loading
        assert loading.own is before.own  # brought to the new version, not read afresh
        assert "quokka" not in before.vocab.index
        assert loading.vocab.index["quokka"] in (await loading.reader.candidates(start)).words
        # a reply under way on the version before never draws the word it cannot say
        assert (await before.reader.candidates(start)).words.max() < len(before.vocab)
        serving.replier.reload()  # new word vectors: the readers stay
        assert (await serving.replier.load()).own is loading.own
        await learning.train_text([" ".join(line) for line in LINES[:200]], order=3, tokenizer="whitespace")
        rebuilt = await serving.store.models.model("base")  # too big for in place: a new build
        assert rebuilt.active_build != model.active_build
        first, second = await asyncio.gather(serving.replier.load(), serving.replier.load())
        assert first is second and first.builds[0] == rebuilt.active_build  # the old build is purged: both wait
    finally:
        await serving.close()
        await learning.close()
