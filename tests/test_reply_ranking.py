"""The reply model's ranking: count-derived word vectors, candidates from both sides of the
pairs, echoes never chosen, a learned answer to the very question (or a paraphrase of it)
first; vectors and reply words stored as rows and recounted when pairs are forgotten; the
sentence-model extra."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.memory.embedding import BUNDLED
from dbslm.metrics import words
from dbslm.reply.association import load_vectors
from dbslm.reply.ranking import ASSOCIATION, Candidate, Ranker
from dbslm.reply.reply_words import TOP, count_reply_words
from dbslm.reply.vectors import count_vectors
from dbslm.starter import starter_pairs
from dbslm.store.schema import SCHEMA_VERSION
from dbslm.text.tokenize import get_tokenizer
from tests.helpers import execute, is_sqlite, table_rows, undo_version_6

TOKENIZE = get_tokenizer("regex").tokenize
PAIRS = [
    ("How old are you?", "I was built this year."),
    ("What is your favourite colour?", "Teal, always."),
    ("Where do you live?", "In a database file."),
]
FOOD = ["pizza cheese oven", "pasta sauce cheese", "pizza dough oven", "sauce tomato pasta", "cheese tomato pizza"]
PETS = ["dog walk leash", "cat purr sofa", "dog bark walk", "cat sofa nap", "leash dog park"]


def topical_pairs(repeat: int = 4) -> list[tuple[str, str]]:
    """Pairs on two topics: each prompt and its reply share a topic, never a word."""
    pairs = []
    for k in range(repeat):
        for topic in (FOOD, PETS):
            for i, text in enumerate(topic):
                pairs.append((f"i like {text}", f"yes the {topic[(i + k + 1) % len(topic)]} was great"))
    return pairs


def test_words_of_one_topic_are_closer_than_words_of_two():
    vectors = count_vectors([(words(p), words(r)) for p, r in topical_pairs()], dims=4)
    cosine = vectors.sentences([["pizza"], ["pasta"], ["dog"]])
    assert cosine[0] @ cosine[1] > cosine[0] @ cosine[2] + 0.5


def test_counting_is_deterministic_and_skips_rare_and_overlong_words():
    pairs = [(words(p), words(r)) for p, r in topical_pairs()] + [(["x" * 65] * 2, ["once"])] * 2
    first, second = count_vectors(pairs, dims=4), count_vectors(pairs, dims=4)
    assert first.words == second.words and np.array_equal(first.matrix, second.matrix)
    assert "x" * 65 not in first.words and "once" in first.words
    assert "lonely" not in count_vectors(pairs + [(["lonely"], ["word"])], dims=4).words


def test_words_that_never_share_a_pair_get_zero_vectors_quietly():
    pairs = [(["tea"], ["tea"]), (["rain"], ["rain"]), (["tea"], []), (["rain"], [])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way
        vectors = count_vectors(pairs, dims=4)
    assert vectors.words == ["rain", "tea"] and not vectors.matrix.any()


async def test_the_reply_on_the_messages_topic_leads(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "topics.sqlite3"))
    await engine.train_dialog(topical_pairs())
    loaded = await engine.replier.load()
    ranked = await loaded.ranker.responses("tell me about cheese and pasta", TOKENIZE("tell me about cheese and pasta"))
    await engine.close()
    assert ranked[0][1] == 1.0 and all(w <= 1.0 for _, w in ranked)
    assert all(any(w in r for w in ("pizza", "pasta", "sauce", "cheese", "tomato", "dough", "oven")) for r, _ in ranked)


async def test_an_echo_is_never_chosen_and_the_same_question_gets_its_answer(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "echo.sqlite3"))
    await engine.train_dialog(PAIRS + [("Say something", "How old are you?")] + topical_pairs())
    conversation = await engine.start_conversation("ann")
    loaded = await engine.replier.load()
    ranked = await loaded.ranker.responses("How old are you?", TOKENIZE("How old are you?"))
    reply = await engine.respond(conversation, "How old are you?", seed=1)
    await engine.close()
    assert "How old are you?" not in [r for r, _ in ranked]
    assert ranked[0][0] == reply.text == "I was built this year."


async def test_a_paraphrase_of_a_learned_question_gets_its_answer(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "paraphrase.sqlite3"))
    await engine.train_dialog(starter_pairs())  # has "How are you doing?" and "How much money have you lost?"
    loaded = await engine.replier.load()
    ranked = await loaded.ranker.responses("How are you today?", TOKENIZE("How are you today?"))
    await engine.close()
    assert ranked[0][0].startswith("I am doing well")


async def test_a_question_of_common_words_finds_its_answer_among_many_prompts_with_them(db):
    # MariaDB's index skips "what" and "do" and scores every prompt with "can" and "you" alike
    others = [(f"Can you name topic {i}?", f"You can: topic {i}.") for i in range(60)]
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([*others, ("What can you do?", "I can chat.")])
    ranked = await (await engine.replier.load()).ranker.responses("What can you do?", TOKENIZE("What can you do?"))
    await engine.close()
    assert ranked[0][0] == "I can chat."


async def test_the_starter_model_answers_what_people_ask_a_bot_first_and_everyday_messages(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog(starter_pairs())  # chatterbot-corpus has none of these questions
    conversation = await engine.start_conversation("ann")
    replies = {
        prompt: (await engine.respond(conversation, prompt, seed=i)).text
        for i, prompt in enumerate(
            ["What is your name?", "whats ur name", "Who made you?", "What can you do?", "bye", "ok thanks", "hey"]
        )
    }
    await engine.close()
    assert (replies["bye"], replies["ok thanks"], replies["hey"]) == (
        "Goodbye! Talk to you soon.",
        "You're welcome!",
        "Hey! How are you?",
    )
    assert replies["What is your name?"] == replies["whats ur name"] == "My name is dbslm."
    assert replies["Who made you?"].startswith("I was made by the dbslm project")
    assert "/correct" in replies["What can you do?"]


async def test_what_the_index_found_is_kept_only_while_the_pairs_are_the_same(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog(PAIRS)
    message = "Where do you live these days?"
    first = await (await engine.replier.load()).ranker.responses(message, TOKENIZE(message))
    again = await (await engine.replier.load()).ranker.responses(message, TOKENIZE(message))
    await engine.train_dialog([("Where do you live these days?", "In a bigger database file now.")])
    taught = await (await engine.replier.load()).ranker.responses(message, TOKENIZE(message))
    await engine.close()
    assert first == again and first[0][0] == "In a database file."
    assert taught[0][0] == "In a bigger database file now."


async def taught_by_ann_and_bob(db: str, bobs: list[tuple[str, str]]) -> tuple[DBSLMEngine, int]:
    """An engine taught the topical pairs by ann and ``bobs`` by bob, and its model id."""
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog(topical_pairs(), user_id="test:ann")
    await engine.train_dialog(bobs, user_id="test:bob")
    return engine, await engine.model_id()


async def test_vectors_are_rows_and_forgetting_pairs_recounts_them(db):
    engine, model_id = await taught_by_ann_and_bob(
        db, [("my kayak paddle", "kayak river paddle"), ("a kayak trip", "paddle the river")]
    )
    assert table_rows(db, "SELECT COUNT(*) FROM word_vectors WHERE model_id = ? AND word = ?", (model_id, "kayak")) == [
        (1,)
    ]
    await engine.forget_user("test:bob")
    stored = await load_vectors(engine.pairs, model_id)
    await engine.close()
    alone = count_vectors([(words(p), words(r)) for p, r in topical_pairs()])
    assert "kayak" not in stored.words and stored.words == alone.words
    assert np.allclose(stored.matrix, alone.matrix, atol=1e-5)


def test_reply_words_are_what_a_prompt_word_calls_for_beyond_what_every_reply_has():
    found = count_reply_words([(words(p), words(r)) for p, r in topical_pairs()])
    called = {}
    for word, reply in zip(found.words, found.reply_words):
        called.setdefault(word, []).append(reply)
    food = {w for text in FOOD for w in text.split()}
    assert called["pizza"] and set(called["pizza"]) <= food  # "yes", "the", "was", "great" are in every reply
    assert all(len(replies) <= TOP for replies in called.values())
    few = count_reply_words(
        [(["kayak"], ["paddle"])]
        + [(["kayak"], ["river"])] * 3
        + [(["bike"], ["wheel"])] * 3
        + [(["tea"], ["cup"])] * 3
    )
    assert list(zip(few.words, few.reply_words, few.pairs.tolist())) == [
        ("bike", "wheel", 3),
        ("kayak", "river", 3),
        ("tea", "cup", 3),
    ]  # a pairing seen once says nothing


async def test_reply_words_are_rows_and_forgetting_pairs_recounts_them(db):
    engine, model_id = await taught_by_ann_and_bob(
        db, [("my kayak trip", "paddle down the river"), ("a kayak for two", "a river paddle")]
    )
    which = (
        "SELECT reply_word FROM reply_words WHERE model_id = ? AND word = ? ORDER BY score DESC",
        (model_id, "kayak"),
    )
    assert {"paddle", "river"} <= {w for (w,) in table_rows(db, *which)}
    await engine.forget_user("test:bob")
    await engine.close()
    stored = table_rows(
        db,
        "SELECT word, reply_word, score, pairs FROM reply_words WHERE model_id = ? ORDER BY word, reply_word",
        (model_id,),
    )
    alone = count_reply_words([(words(p), words(r)) for p, r in topical_pairs()])
    expected = sorted(zip(alone.words, alone.reply_words, alone.scores.tolist(), alone.pairs.tolist()))
    assert [(w, r, n) for w, r, _, n in stored] == [(w, r, n) for w, r, _, n in expected]
    assert np.allclose([s for *_, s, _ in stored], [s for *_, s, _ in expected])
    assert not table_rows(db, *which)


async def test_a_message_reads_the_reply_words_its_words_call_for_with_the_best_score_of_each(db):
    engine, model_id = await taught_by_ann_and_bob(
        db, [("my kayak trip", "paddle down the river"), ("a kayak for two", "a river paddle")]
    )
    pairs = engine.replier.pairs
    called = await pairs.reply_words_of([model_id], ["kayak", "trip", "x'); DROP TABLE reply_words; --"])
    stored = table_rows(db, "SELECT word, reply_word, score FROM reply_words WHERE model_id = ?", (model_id,))
    nothing = await pairs.reply_words_of([model_id + 1], ["kayak"]), await pairs.reply_words_of([model_id], [])
    await engine.close()
    assert {"paddle", "river"} <= set(called["kayak"]) and "x'); DROP TABLE reply_words; --" not in called
    assert {(w, r): x for w, rs in called.items() for r, x in rs.items()} == pytest.approx(
        {(w, r): x for w, r, x in stored if w in ("kayak", "trip")}
    )
    assert nothing == ({}, {})


def test_a_response_ranks_higher_for_the_words_the_message_calls_for_and_the_rare_words_it_takes_up():
    vectors = count_vectors([(words(p), words(r)) for p, r in topical_pairs()], dims=4)
    ranker = Ranker(None, vectors, None, (1,), TOKENIZE, 0.0)  # type: ignore[arg-type]  # no store: nothing is read

    def candidate(response: str) -> Candidate:
        return Candidate(0, 1, [], response, words(response), 0.0)

    message = ["i", "like", "pizza"]
    called, plain, rare, common = map(candidate, ("the oven was hot", "the day was hot", "pizza again", "i again"))
    scores = ranker.content(message, [called, plain, rare, common], {"oven": 2.0})
    assert scores[0] == pytest.approx(scores[1] + ASSOCIATION * 2.0 / 4)
    assert scores[2] > scores[3] > 0.0 and scores[1] == 0.0


async def test_a_version_4_database_searches_responses_after_its_upgrade(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello there", "the heron stands in the river")])
    await engine.close()
    undo_version_6(db)
    if is_sqlite(db):  # version 4 indexed prompts only, in one FTS table
        for column in ("prompt", "response"):
            execute(db, f"DROP TRIGGER pairs_{column}_fts_ai")
            execute(db, f"DROP TRIGGER pairs_{column}_fts_ad")
            execute(db, f"DROP TABLE pairs_{column}_fts")
        execute(db, "CREATE VIRTUAL TABLE pairs_fts USING fts5(prompt, content='pairs', content_rowid='id')")
        execute(
            db,
            "CREATE TRIGGER pairs_fts_ai AFTER INSERT ON pairs BEGIN "
            "INSERT INTO pairs_fts (rowid, prompt) VALUES (new.id, new.prompt); END",
        )
        execute(db, "INSERT INTO pairs_fts (pairs_fts) VALUES ('rebuild')")
    else:
        execute(db, "ALTER TABLE pairs DROP INDEX response")
    execute(db, "DROP TABLE word_vectors")
    execute(db, "ALTER TABLE decode_profiles DROP COLUMN prompt_weight")
    execute(db, "UPDATE meta SET value = '4' WHERE name = 'schema_version'")
    engine = await DBSLMEngine.open(db)
    model_id = await engine.model_id()
    found = await engine.pairs.search_pairs((model_id,), ["heron"], 5, column="response")
    await engine.close()
    assert [hit[3] for hit in found] == ["the heron stands in the river"]
    assert table_rows(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [(str(SCHEMA_VERSION),)]


async def test_a_missing_extra_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if the extra were not installed
    engine = await DBSLMEngine.open(str(tmp_path / "missing.sqlite3"), embedder=BUNDLED)
    await engine.train_dialog(PAIRS)
    with pytest.raises(DbslmError, match=r"pip install 'dbslm\[embeddings\]'"):
        await engine.respond(await engine.start_conversation("ann"), "hello", seed=1)
    await engine.close()


async def test_count_vectors_store_no_sentence_vectors(tmp_path):
    path = str(tmp_path / "counts.sqlite3")
    engine = await DBSLMEngine.open(path)
    await engine.train_dialog(PAIRS)
    await engine.respond(await engine.start_conversation("ann"), "How old are you?", seed=1)
    await engine.close()
    assert table_rows(path, "SELECT COUNT(*) FROM pair_vectors") == [(0,)]


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
    assert removed["taught_pairs"] == len(PAIRS)  # subtracted from the model, their vectors deleted with them
    assert table_rows(path, "SELECT COUNT(*) FROM pair_vectors") == [(0,)]


async def test_an_unknown_sentence_model_is_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the embeddings extra is not installed")
    engine = await DBSLMEngine.open(str(tmp_path / "unknown.sqlite3"), embedder=str(tmp_path / "no-model"))
    await engine.train_dialog(PAIRS)
    with pytest.raises(DbslmError, match="cannot load the sentence model"):
        await engine.respond(await engine.start_conversation("ann"), "hello", seed=1)
    await engine.close()


def test_the_index_is_searched_for_rare_words_first():
    pairs = topical_pairs(10) + [("a kayak", "kayak trip")] * 2
    vectors = count_vectors([(words(p), words(r)) for p, r in pairs], dims=4)
    assert vectors.rarest(["was", "kayak", "great", "unheard"], 5) == ["unheard", "kayak"]  # was, great: every reply
    assert vectors.rarest(["was", "great"], 5) == [] and vectors.rarest(["was", "great"], 5, common=True)


async def test_a_message_of_common_words_still_finds_answers(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "common.sqlite3"))
    await engine.train_dialog(topical_pairs())
    loaded = await engine.replier.load()
    ranked = await loaded.ranker.responses("was it great?", TOKENIZE("was it great?"))
    await engine.close()
    assert ranked and "great" in ranked[0][0]


async def test_a_message_of_words_the_index_skips_still_finds_its_answer(db):
    """MariaDB's full-text index skips words under 3 letters and stopwords: pairs holding
    those are found by a substring match; SQLite's index holds every word."""
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([*PAIRS, ("is it so?", "It is so, truly.")])
    loaded = await engine.replier.load()
    ranked = await loaded.ranker.responses("Is it so?", TOKENIZE("Is it so?"))
    await engine.close()
    assert ranked[0][0] == "It is so, truly."


async def test_the_prompt_weight_is_fit_to_the_models_pairs_and_kept_in_its_profile(tmp_path):
    from dbslm.reply.fitting import GRID

    path = str(tmp_path / "fit.sqlite3")
    engine = await DBSLMEngine.open(path)
    await engine.train_dialog(topical_pairs(8))
    await engine.close()
    assert table_rows(path, "SELECT name, prompt_weight FROM decode_profiles")[0][1] in GRID


def test_the_ranking_measure_scores_echoes_and_empty_replies_zero_and_a_fixed_reply_near_chance():
    from dbslm.metrics import reciprocal_ranks

    rng = np.random.default_rng(0)
    references = rng.standard_normal((50, 8))
    references /= np.linalg.norm(references, axis=1, keepdims=True)
    prompts = [f"question number {i} about herons" for i in range(50)]
    own = reciprocal_ranks(references, references, ["a fine answer"] * 50, prompts)
    assert (own == 1.0).all()
    echoed = reciprocal_ranks(references, references, prompts[:49] + [""], prompts)
    assert (echoed == 0.0).all()
    fixed = reciprocal_ranks(np.repeat(references[:1], 50, axis=0), references, ["the same"] * 50, prompts)
    assert fixed.mean() == pytest.approx(sum(1 / r for r in range(1, 51)) / 50)  # every rank once: chance


async def test_a_response_learned_many_times_takes_one_place_in_the_cache(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog(PAIRS + topical_pairs())  # each topical response four times
    ranked = await (await engine.replier.load()).ranker.responses("my pizza oven", TOKENIZE("my pizza oven"))
    await engine.close()
    assert ranked[0] == ("yes the pizza cheese oven was great", 1.0)
    assert len({r for r, _ in ranked}) == len(ranked) == 3 and all("pizza" in r for r, _ in ranked)
