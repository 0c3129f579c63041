"""Retrieval vectors: hashed by default (nothing stored), a sentence model with the extra."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbslm import metrics
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.memory.embedding import BUNDLED, HashedEmbedder
from dbslm.memory.recall import Recall
from dbslm.metrics import pairwise_unigram_f1
from dbslm.text.tokenize import get_tokenizer
from tests.conftest import table_rows

PAIRS = [("How old are you?", "I was built this year."), ("What is your favourite colour?", "Teal, always."),
         ("Where do you live?", "In a database file.")]


async def test_hashed_vectors_are_not_stored(tmp_path):
    path = str(tmp_path / "hashed.sqlite3")
    engine = await DBSLMEngine.open(path)
    await engine.train_dialog(PAIRS)
    reply = await engine.respond(await engine.start_conversation("ann"), "How old are you?", seed=1)
    await engine.close()
    assert reply.text == "I was built this year."
    assert table_rows(path, "SELECT COUNT(*) FROM pair_vectors") == [(0,)]


async def test_a_missing_extra_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if the extra were not installed
    engine = await DBSLMEngine.open(str(tmp_path / "missing.sqlite3"), embedder=BUNDLED)
    await engine.train_dialog(PAIRS)
    with pytest.raises(DbslmError, match=r"pip install 'dbslm\[embeddings\]'"):
        await engine.respond(await engine.start_conversation("ann"), "hello", seed=1)
    await engine.close()


async def test_sentence_vectors_are_stored_once_and_forgotten_with_their_pairs(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the embeddings extra is not installed")
    path = str(tmp_path / "sentences.sqlite3")
    engine = await DBSLMEngine.open(path, embedder=BUNDLED)
    await engine.train_dialog(PAIRS, user_id="test:ann")
    conversation = await engine.start_conversation("ann")
    assert (await engine.respond(conversation, "What is your favourite colour?", seed=1)).text == "Teal, always."
    stored = table_rows(path, "SELECT pair_id, embedder, LENGTH(vector) FROM pair_vectors")
    assert stored and all(e == BUNDLED and size == 384 * 4 for _, e, size in stored)
    await engine.respond(conversation, "What is your favourite colour?", seed=2)
    assert table_rows(path, "SELECT pair_id, embedder, LENGTH(vector) FROM pair_vectors") == stored
    removed = await engine.forget_user("test:ann")
    await engine.close()
    assert removed["pair_vectors"] == len(stored) and removed["pairs"] == len(PAIRS)
    assert table_rows(path, "SELECT COUNT(*) FROM pair_vectors") == [(0,)]


async def test_an_unknown_sentence_model_is_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the embeddings extra is not installed")
    engine = await DBSLMEngine.open(str(tmp_path / "unknown.sqlite3"), embedder=str(tmp_path / "no-model"))
    await engine.train_dialog(PAIRS)
    with pytest.raises(DbslmError, match="cannot load the sentence model"):
        await engine.respond(await engine.start_conversation("ann"), "hello", seed=1)
    await engine.close()


async def test_the_answer_most_similar_prompts_got_leads(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "vote.sqlite3"))
    sky = "What colour is the sky?"
    await engine.train_dialog([(sky, "Grey, it is raining."), (sky, "Blue on a clear day."),
                               (sky, "Blue, on a clear day!"), ("Where do you live?", "In a database file.")])
    tokenize = get_tokenizer("regex").tokenize
    recall = Recall(engine.level2, HashedEmbedder(tokenize), (await engine.model_id(),), tokenize)
    responses = await recall.responses(sky, tokenize(sky))
    await engine.close()
    assert [r for r, _ in responses][:2] == ["Blue on a clear day.", "Blue, on a clear day!"]
    assert responses[-1][0] == "Grey, it is raining." and responses[-1][1] < responses[0][1]


async def test_responses_without_words_are_recalled_without_a_vote(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "emoji.sqlite3"))
    await engine.train_dialog([("How was the party?", "🎉🎉"), ("How was the party?", "🙂")])
    tokenize = get_tokenizer("regex").tokenize
    recall = Recall(engine.level2, HashedEmbedder(tokenize), (await engine.model_id(),), tokenize)
    responses = await recall.responses("How was the party?", tokenize("How was the party?"))
    await engine.close()
    assert sorted(r for r, _ in responses) == ["🎉🎉", "🙂"] and all(w == 1.0 for _, w in responses)


@given(st.lists(st.text(alphabet="ab c🙂", max_size=12), max_size=5))
def test_the_vote_overlap_is_the_lexical_overlap_metric(texts):
    overlap = pairwise_unigram_f1([metrics.words(t) for t in texts])
    for i, a in enumerate(texts):
        for j, b in enumerate(texts):
            assert overlap[i, j] == pytest.approx(metrics.lexical_overlap(a, b))
