"""Exact forgetting: untraining a text gives the model that training without it gives."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbslm.errors import DbslmError
from dbslm.evaluation import evaluate, trained_model
from dbslm.ngram.counting import OrderCounts, merge_texts
from dbslm.ngram.tables import counts_from_rows
from dbslm.reading.reader import ModelReader
from dbslm.starter import starter_pairs
from dbslm.store import Store, open_store
from dbslm.text.tokenize import get_tokenizer
from dbslm.text.vocab import BOS
from dbslm.training.builds import resolve_model, train, untrain
from tests.helpers import LINES, TEST_TEXT, assert_same_model, ngrams_by_text, table_rows, vocabulary

Sentences = list[list[str]]
Pairs = list[tuple[list[str], list[str]]]
Y_ONLY = [["zebras", "graze", "quietly", "on", "the", "savanna"], ["the", "zebras", "sleep"]]


async def learn(store: Store, name: str, order: int, sentences: Sentences = (), dialog: Pairs = ()) -> None:
    """Train the model ``name`` (whitespace-tokenized text) on sentences and dialog pairs."""
    model = await resolve_model(store, name, order, "whitespace", reset=False)
    await train(store, model, sentences, dialog=dialog)


async def forget(store: Store, name: str, sentences: Sentences = (), dialog: Pairs = ()):
    """Untrain sentences and dialog pairs from the model ``name``."""
    return await untrain(store, await store.models.model(name), sentences, dialog=dialog)


async def known_words(store: Store, name: str) -> set[str]:
    """The words the model knows (the rest read as <unk>)."""
    return set((await store.models.vocabulary(await store.models.model(name))).index)


async def assert_same_scores(store: Store, forgot: str, alone: str, text: Sentences) -> None:
    a = await evaluate(store, await trained_model(store, forgot), text)
    b = await evaluate(store, await trained_model(store, alone), text)
    assert (a.tokens, a.oovs) == (b.tokens, b.oovs)
    assert a.log10_prob == pytest.approx(b.log10_prob, abs=1e-9)
    assert a.log10_prob_excluding_oovs == pytest.approx(b.log10_prob_excluding_oovs, abs=1e-9)


async def test_untraining_y_gives_the_model_of_x_alone(db):
    x, y = LINES[::2], LINES[1::2] + Y_ONLY
    async with await open_store(db) as store:
        for i in range(2):  # interleaved: X, Y, X, Y
            await learn(store, "mixed", 3, x[i::2])
            await learn(store, "mixed", 3, y[i::2])
        await forget(store, "mixed", y[:50])
        await forget(store, "mixed", y[50:])
        await learn(store, "alone", 3, x)
        assert_same_model(await ngrams_by_text(store, "mixed"), await ngrams_by_text(store, "alone"))
        mixed, alone = await store.models.model("mixed"), await store.models.model("alone")
        assert [d.t for d in await store.models.discounts(mixed.active_build)] == [
            d.t for d in await store.models.discounts(alone.active_build)
        ]
        assert await known_words(store, "mixed") == await known_words(store, "alone")
        learned = vocabulary(db, "mixed")
        assert {w: f for w, f in learned.items() if f} == vocabulary(db, "alone")
        y_only = {w for s in y for w in s} - {w for s in x for w in s}
        erased = {w for w, f in learned.items() if not f}  # rows kept (ids stay), frequency 0, words erased
        assert len(erased) == len(y_only) and all(w.startswith("<forgotten ") for w in erased)
        await assert_same_scores(store, "mixed", "alone", TEST_TEXT + Y_ONLY)
        oovs = sum(w in y_only for s in Y_ONLY for w in s)
        assert (await evaluate(store, mixed, Y_ONLY)).oovs == oovs > 0
        await learn(store, "mixed", 3, y)  # learning it again gives the forgotten words new ids
        await learn(store, "alone", 3, y)
        assert_same_model(await ngrams_by_text(store, "mixed"), await ngrams_by_text(store, "alone"))


def dialog_pairs() -> Pairs:
    tokenize = get_tokenizer("regex").tokenize
    return [(tokenize(p), tokenize(r)) for p, r in starter_pairs()[:160]]


async def test_the_counts_training_merges_with_are_every_stored_row(db):
    store = await open_store(db)
    try:
        await learn(store, "whole", 3, LINES)
        model = await store.models.model("whole")
        for n in (1, 2, 3):
            ctx, word, count = await store.models.order_counts(model.active_build, n)  # packed on MariaDB
            rows = await store.models.order_rows(model.active_build, n)
            assert sorted(zip(ctx.tolist(), word.tolist(), count.tolist())) == sorted(
                zip(rows.ctx.tolist(), rows.word.tolist(), rows.count.tolist())
            )
    finally:
        await store.close()


async def test_the_counts_a_process_keeps_of_its_last_build_are_the_stored_ones(db):
    store = await open_store(db)
    try:
        await learn(store, "whole", 3, LINES[:120])
        await learn(store, "whole", 3, LINES[120:])  # a new build: merged with the counts kept of the first
        build = (await store.models.model("whole")).active_build
        kept = await store.models.remembered.of(build)
        assert kept is not None and kept.batches == []
        assert_same_counts(kept.counts, await stored_counts(store, build))
        await learn(store, "whole", 3, LINES[120:121])  # batches change the build in place: kept beside it
        await forget(store, "whole", LINES[5:6])
        assert (await store.models.model("whole")).active_build == build
        kept = await store.models.remembered.of(build)
        assert [sign for _, sign in kept.batches] == [1, -1]
        assert_same_counts(merge_texts(kept.counts, kept.batches, 3), await stored_counts(store, build))
        assert await store.models.remembered.of(build - 1) is None
        async with store.db.transaction() as tx:  # another process's build under the same id (SQLite reuses ids)
            await tx.execute("UPDATE builds SET created_at = created_at + 1 WHERE id = ?", (build,))
        assert await store.models.remembered.of(build) is None
    finally:
        await store.close()


async def stored_counts(store, build: int) -> list[OrderCounts]:
    return counts_from_rows([await store.models.order_counts(build, n) for n in (1, 2, 3)])


def assert_same_counts(mine: list[OrderCounts], theirs: list[OrderCounts]) -> None:
    assert len(mine) == len(theirs) == 3
    for a, b in zip(mine, theirs):
        assert a.keys.tolist() == b.keys.tolist() and a.counts.tolist() == b.counts.tolist()


async def test_a_rebuild_after_batches_in_place_starts_from_the_counts_kept(db):
    """A forgetting too big to take in place, after batches in place, gives the model trained
    on what is left (from the counts kept and the batches, without reading the model back)."""
    store = await open_store(db)
    try:
        await learn(store, "kept", 3, LINES[:120])
        await learn(store, "kept", 3, LINES[120:122])  # in place
        build = (await store.models.model("kept")).active_build
        assert len((await store.models.remembered.of(build)).batches) == 1
        read_back = store.models.order_counts
        store.models.order_counts = None  # the rebuild must not read the model back
        try:
            await forget(store, "kept", LINES[:60])
        finally:
            store.models.order_counts = read_back
        await learn(store, "fresh", 3, LINES[60:122])
        assert (await store.models.model("kept")).active_build != build  # rebuilt
        assert_same_model(await ngrams_by_text(store, "kept"), await ngrams_by_text(store, "fresh"))
    finally:
        await store.close()


async def test_untraining_dialog_pairs_gives_the_model_without_them(db):
    pairs = dialog_pairs()
    x, y = pairs[::2], pairs[1::2] + [(["zebras", "?"], ["graze", "quietly", "."])]
    async with await open_store(db) as store:
        await learn(store, "mixed", 4, LINES[:40], x[:40])
        await learn(store, "mixed", 4, dialog=y[:40])
        await learn(store, "mixed", 4, dialog=x[40:])
        await learn(store, "mixed", 4, dialog=y[40:])
        await forget(store, "mixed", dialog=y)
        await learn(store, "alone", 4, LINES[:40], x)
        assert_same_model(await ngrams_by_text(store, "mixed"), await ngrams_by_text(store, "alone"))
        assert await known_words(store, "mixed") == await known_words(store, "alone")
        learned = vocabulary(db, "mixed")
        assert {w: f for w, f in learned.items() if f} == vocabulary(db, "alone")
        probe = [[*p, "<sep>", *r] for p, r in y[:20]]  # the <sep> spelling is dropped: prompt + reply
        await assert_same_scores(store, "mixed", "alone", probe)
        await forget(store, "mixed", LINES[:40], x)  # and then the rest, sentences and pairs at once
        assert (await store.models.model("mixed")).active_build is None


async def test_forgotten_words_read_as_unknown_in_generation(db):
    x = [["the", "cat", "sat", "down"], ["the", "dog", "sat", "up"], ["a", "cat", "ran"]]
    y = [["the", "fox", "sat", "down"], ["a", "fox", "ran", "away"]]
    async with await open_store(db) as store:
        await learn(store, "mixed", 3, x + y)
        await forget(store, "mixed", y)
        await learn(store, "alone", 3, x)
        candidates = []
        for name in ("mixed", "alone"):
            model = await store.models.model(name)
            vocab = await store.models.vocabulary(model)
            assert "fox" not in vocab.index and "away" not in vocab.index
            reader = await ModelReader.open(store.models, model)
            words, logp = await reader.candidates([BOS, *vocab.ids(["the", "fox"], grow=False)])
            candidates.append(sorted(zip((vocab.texts[w] for w in words.tolist()), logp.tolist())))
        assert [w for w, _ in candidates[0]] == [w for w, _ in candidates[1]]
        assert [p for _, p in candidates[0]] == pytest.approx([p for _, p in candidates[1]], abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [
        [["the", "unicorn", "of", "the", "LORD"]],  # a word never seen
        [LINES[0], LINES[0]],  # more occurrences than learned
        [list(reversed(LINES[1]))],  # known words, never in that order
    ],
)
async def test_untraining_what_was_never_learned_is_refused(db, text):
    async with await open_store(db) as store:
        await learn(store, "base", 3, LINES[:30])
        before = await store.models.model("base")
        table = await ngrams_by_text(store, "base")
        with pytest.raises(DbslmError, match="never learned") as refused:
            await forget(store, "base", text)
        assert "\n" not in str(refused.value)
        assert await store.models.model("base") == before
        assert await ngrams_by_text(store, "base") == table


async def test_forgotten_text_cannot_be_untrained_twice(db):
    async with await open_store(db) as store:
        await learn(store, "base", 2, LINES[:20] + Y_ONLY)
        await forget(store, "base", Y_ONLY)
        before = await store.models.model("base")
        with pytest.raises(DbslmError, match="never learned"):
            await forget(store, "base", Y_ONLY[:1])
        assert await store.models.model("base") == before


async def test_forgetting_everything_leaves_the_model_untrained(db, tmp_path):
    async with await open_store(db) as store:
        await learn(store, "base", 3, LINES[:20], dialog_pairs()[:10])
        await learn(store, "base", 3, LINES[20:30])
        stale = await store.models.model("base")
        report = await forget(store, "base", LINES[:30], dialog_pairs()[:10])
        assert report.build is None and report.ngrams == {} and report.sentences == 40
        model = await store.models.model("base")
        assert model.active_build is None and model.order == 3
        await store.models.purges.settle()  # the replaced build goes in the background
        assert table_rows(db, "SELECT COUNT(*) FROM ngrams") == [(0,)]
        assert table_rows(db, "SELECT COUNT(*) FROM builds") == [(0,)]
        assert table_rows(db, "SELECT MAX(freq) FROM vocab") == [(0,)]
        with pytest.raises(DbslmError, match="has not been trained"):
            await trained_model(store, "base")
        for handle in (stale, model):  # the gone build's, and the model's now
            with pytest.raises(DbslmError, match="has not been trained"):
                await evaluate(store, handle, TEST_TEXT)
        with pytest.raises(DbslmError, match="nothing to untrain"):
            await forget(store, "base", LINES[:1])
        await learn(store, "base", 3, LINES[30:60])  # starts afresh, as a new model would
        await learn(store, "fresh", 3, LINES[30:60])
        assert_same_model(await ngrams_by_text(store, "base"), await ngrams_by_text(store, "fresh"))
    from dbslm.engine import DBSLMEngine
    from dbslm.reply.replier import UNTRAINED_REPLY

    engine = await DBSLMEngine.open(db, model="fresh")
    try:
        await forget(engine.store, "fresh", LINES[30:60])
        reply = await engine.respond(await engine.start_conversation("u1"), "hello there")
        assert reply.text == UNTRAINED_REPLY
    finally:
        await engine.close()


words_strategy = st.lists(
    st.lists(st.sampled_from("a b c d e f".split()), min_size=1, max_size=6), min_size=1, max_size=5
)


@given(words_strategy, words_strategy, st.integers(1, 4))
@settings(max_examples=25, deadline=None)
def test_train_a_then_b_then_untrain_b_is_train_a(a, b, order):
    async def check() -> None:
        with tempfile.TemporaryDirectory() as folder:
            async with await open_store(str(Path(folder) / "model.sqlite3")) as store:
                await learn(store, "mixed", order, a)
                await learn(store, "mixed", order, b)
                await forget(store, "mixed", b)
                await learn(store, "alone", order, a)
                assert_same_model(await ngrams_by_text(store, "mixed"), await ngrams_by_text(store, "alone"))
                assert await known_words(store, "mixed") == await known_words(store, "alone")

    asyncio.run(check())
