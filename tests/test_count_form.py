"""Builds in count form: what generation reads is what scoring computes, from the same counts."""

from __future__ import annotations

import numpy as np
import pytest

from dbslm.evaluation import token_scores
from dbslm.ngram.count_tables import ContextRows, count_tables
from dbslm.ngram.counting import count_ngrams
from dbslm.reading.reader import CountReader, ModelReader
from dbslm.store import open_store
from dbslm.store.build_rows import count_rows
from dbslm.text.vocab import BOS, Vocabulary
from dbslm.training.builds import resolve_model, train
from tests.helpers import table_rows

LINES = [
    "the heron waits by the river",
    "the river runs to the sea",
    "a heron flies over the sea",
    "the sea is wide and the river is long",
    "a heron waits and waits",
] * 2


async def reader_and_scores(db: str, head_size: int):
    """A model trained on LINES, its reader, and a function giving scoring's log10 p(w | history)."""
    store = await open_store(db)
    model = await resolve_model(store, "base", 3, "whitespace", reset=False)
    await train(store, model, [line.split() for line in LINES], head_size=head_size)
    model = await store.models.model("base")
    vocab = await store.models.vocabulary(model)
    reader = await ModelReader.open(store.models, model, head_size)

    async def exact(history: list[int], word: int) -> float:
        return float((await token_scores(store, model, np.array([*history, word], dtype=np.int64)))[-1])

    return store, reader, vocab, exact


def histories(vocab) -> list[list[int]]:
    ids = [vocab.ids(line.split(), grow=False) for line in LINES[:5]]
    return [[BOS, *line[:i]] for line in ids for i in range(len(line))]


@pytest.mark.parametrize("db", ["sqlite", "mariadb"], indirect=True)
async def test_candidates_have_the_probabilities_scoring_computes(db):
    """Without heads (every context is small), each candidate's probability is the model's
    own log10 p(w | history), to the last bit or nearly."""
    store, reader, vocab, exact = await reader_and_scores(db, head_size=1000)
    assert isinstance(reader, CountReader)
    try:
        for history in histories(vocab):
            words, logp = await reader.candidates(history)
            assert len(words) > 0
            for w, lp in zip(words.tolist(), logp.tolist()):
                assert lp == pytest.approx(await exact(history, w), abs=1e-12)
    finally:
        await store.close()


async def test_candidates_of_a_head_are_exact_and_the_others_never_above(tmp_path):
    """With heads of 2, a candidate of the longest context's head has its exact probability;
    one that only a shorter context's head holds gets that context's, times the backoffs of
    the longer ones: never more than its exact probability."""
    store, reader, vocab, exact = await reader_and_scores(str(tmp_path / "m.sqlite3"), head_size=2)
    longest_exact = 0
    try:
        for history in histories(vocab):
            words, logp = await reader.candidates(history)
            context = tuple(history[-2:])
            own = await store.models.contexts(reader.model.active_build, [(3, reader_key(context))])
            head = set(own[(3, reader_key(context))].words.tolist()) if own else set()
            for w, lp in zip(words.tolist(), logp.tolist()):
                if w in head:
                    longest_exact += 1
                    assert lp == pytest.approx(await exact(history, w), abs=1e-12)
                else:
                    assert lp <= await exact(history, w) + 1e-12
        assert longest_exact > 20
    finally:
        await store.close()


@pytest.mark.parametrize("db", ["sqlite", "mariadb"], indirect=True)
async def test_only_contexts_with_a_head_have_a_row_and_every_context_reads_its_statistics(db):
    """A build writes a ``contexts`` row for each context that has a head and for no other;
    the statistics of every context, read as scoring reads them, are the training's own."""
    store, reader, vocab, _ = await reader_and_scores(db, head_size=2)
    try:
        ids = Vocabulary(vocab.texts).encode([line.split() for line in LINES], grow=False)
        expected = [p for p in count_tables(count_ngrams(ids, 3), 2).parts() if isinstance(p, ContextRows)]
        build = reader.model.active_build
        headed = sorted((c.n, k) for c in expected for k in c.heads.ctx.tolist())
        assert 0 < len(headed) < sum(len(c.ctx) for c in expected)
        assert table_rows(db, "SELECT n, ctx FROM contexts WHERE build = ? ORDER BY n, ctx", (build,)) == headed
        n = np.concatenate([np.full(len(c.ctx), c.n) for c in expected])
        ctx = np.concatenate([c.ctx for c in expected])
        stats = np.concatenate([np.stack((s.total, s.n1, s.n2, s.n3), axis=1) for s in (c.stats for c in expected)])
        want = sorted(zip(n.tolist(), ctx.tolist(), *stats.astype(np.int64).T.tolist()))
        got = await store.models.context_stats(build, n, ctx)
        assert sorted(map(tuple, got.tolist())) == want
        found = await store.models.contexts(build, list(zip(n.tolist(), ctx.tolist())))
        assert sorted((*key, c.total, c.n1, c.n2, c.n3) for key, c in found.items()) == want
    finally:
        await store.close()


def reader_key(context: tuple[int, ...]) -> int:
    from dbslm.ngram.hashing import key_of

    return key_of(context)


def test_a_build_gives_each_table_its_rows_in_key_order():
    """Rows are written in primary-key order (a write elsewhere than the table's end costs
    about 40% more): the n-grams by order, context key and word; the contexts by order and key."""
    ids = Vocabulary().encode([line.split() for line in LINES], grow=True)
    keys = {"ngrams": [], "contexts": []}
    for table, _, values in count_rows(7, count_tables(count_ngrams(ids, 4), 2)):
        if table in keys:
            n, ctx = values[1], values[2].tolist()
            keys[table] += (
                [(n, c, w) for c, w in zip(ctx, values[3].tolist())] if table == "ngrams" else [(n, c) for c in ctx]
            )
    assert len(keys["ngrams"]) == len(set(keys["ngrams"])) > 100 and len(keys["contexts"]) > 3
    assert all(rows == sorted(rows) for rows in keys.values())
