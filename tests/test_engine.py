"""The conversation engine: replies, determinism, corrections, forgetting, hostile input."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbslm.decoder import DecodeSettings
from dbslm.domain import Concept
from dbslm.engine import DBSLMEngine
from dbslm.reply.replier import UNKNOWN_WORDS_REPLY, UNTRAINED_REPLY
from dbslm.text.tokenize import detokenize, get_tokenizer
from dbslm.text.valid import bounded, repaired
from tests.helpers import execute, split_pairs, table_rows

HOSTILE = [
    "",
    "   \t\n ",
    "🎉🔥👩‍💻🇫🇷",
    "x" * 100_000,
    "a\x00b\x07c\x1b[31m",
    "مرحبا שלום hello",
    "今日はいい天気ですね。",
    "'; DROP TABLE messages; --",
    "Robert'); DELETE FROM pairs;--",
    "\u202eevil",
]


@pytest.fixture
async def engine(db):
    eng = await DBSLMEngine.open(db)
    await eng.train_dialog(split_pairs()[0])
    yield eng
    await eng.close()


async def test_untrained_model_says_so(tmp_path):
    eng = await DBSLMEngine.open(str(tmp_path / "empty.sqlite3"))
    conv = await eng.start_conversation("u1")
    reply = await eng.respond(conv, "hello?")
    assert reply.text == UNTRAINED_REPLY and reply.concept == "untrained"
    assert [m.text for m in await eng.history(conv)] == ["hello?", UNTRAINED_REPLY]
    await eng.close()


async def test_a_message_of_words_it_never_learned_gets_a_clear_line_not_a_guess(engine):
    conv = await engine.start_conversation("u1")
    for text in ("Bonjour, comment ça va ?", "Привет, как дела?", "zxqv wybl", "🦜"):
        reply = await engine.respond(conv, text, seed=1)
        assert (reply.text, reply.concept) == (UNKNOWN_WORDS_REPLY, "no_answer")
    for text in ("HELLO there zxqv", "What is AI?"):  # one learned word (in any case) is enough to answer
        assert (await engine.respond(conv, text, seed=1)).text != UNKNOWN_WORDS_REPLY


async def test_same_seed_same_reply_and_seeds_vary(engine):
    replies = []
    for seed in range(12):
        first = await engine.respond(await engine.start_conversation("a"), "Hi, How is it going?", seed=seed)
        again = await engine.respond(await engine.start_conversation("b"), "Hi, How is it going?", seed=seed)
        assert first.text == again.text and first.text
        replies.append(first.text)
    assert len(set(replies)) > 1


async def test_answers_known_prompts_from_what_it_learned(engine):
    conv = await engine.start_conversation("u1")
    learned = {r for p, r in split_pairs()[0] if p == "What is AI?"}
    replies = {(await engine.respond(conv, "What is AI?", seed=seed)).text for seed in range(5)}
    assert replies & learned, replies  # retrieval and cache bring back what it was taught


async def test_corrections_apply_to_their_conversation_until_approved(engine):
    held_out = list(dict.fromkeys(p for p, _ in split_pairs()[1]))[:20]
    corrected = 0
    for i, prompt in enumerate(held_out):
        conv = await engine.start_conversation(f"user{i}")
        await engine.respond(conv, prompt, seed=i)
        answer = f"The answer number {i} is zebra{i}."
        correction = await engine.record_correction(conv, answer)
        if answer in (await engine.respond(conv, prompt, seed=100 + i)).text:
            corrected += 1
        other = await engine.start_conversation(f"other{i}")
        assert f"zebra{i}" not in (await engine.respond(other, prompt, seed=i)).text
        if i < 3:
            assert await engine.approve_correction(correction)
            later = await engine.start_conversation(f"later{i}")
            assert answer in (await engine.respond(later, prompt, seed=i)).text
    print(f"corrections followed: {corrected}/{len(held_out)}")
    assert corrected >= 18


async def test_forget_user_removes_their_rows_and_nothing_else(engine, db):
    tables = ("conversations", "messages", "corrections", "biases", "pairs")
    for user in ("alice", "bob"):
        conv = await engine.start_conversation(user)
        await engine.respond(conv, f"hello from {user}", seed=1)
        await engine.record_correction(conv, f"hi {user}, nice to meet you")
    before = {t: table_rows(db, f"SELECT * FROM {t} ORDER BY id") for t in tables}
    removed = await engine.forget_user("alice")
    assert removed["conversations"] == 1 and removed["messages"] == 2 and removed["corrections"] == 1
    after = {t: table_rows(db, f"SELECT * FROM {t} ORDER BY id") for t in tables}
    for table in tables:
        gone = set(before[table]) - set(after[table])
        assert len(gone) == removed[table]
        assert not set(after[table]) - set(before[table])
        assert not any("alice" in str(row) for row in after[table])
    assert any("bob" in str(row) for row in after["messages"])


async def test_hostile_inputs_are_logged_verbatim_and_answered(engine):

    conv = await engine.start_conversation("mallory")
    for text in HOSTILE:
        reply = await engine.respond(conv, text, seed=5)
        assert reply.text.strip()
        logged = (await engine.history(conv, 2))[0]
        assert logged.role == "user" and logged.text == bounded(repaired(text))  # verbatim, up to the limit
    conv2 = await engine.start_conversation("mallory")
    long_reply = await engine.respond(conv2, HOSTILE[3])
    assert long_reply.concept == "refusal" and "100,000 characters" in long_reply.text


@pytest.fixture(scope="module")
def sync_engine(tmp_path_factory):
    loop = asyncio.new_event_loop()
    eng = loop.run_until_complete(DBSLMEngine.open(str(tmp_path_factory.mktemp("h") / "h.sqlite3")))
    loop.run_until_complete(eng.train_dialog(split_pairs()[0][:500]))
    conv = loop.run_until_complete(eng.start_conversation("h"))
    yield loop, eng, conv
    loop.run_until_complete(eng.close())
    loop.close()


@given(st.text(max_size=300))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_unicode_gets_an_answer(sync_engine, text):
    loop, eng, conv = sync_engine
    reply = loop.run_until_complete(eng.respond(conv, text, seed=0))
    assert isinstance(reply.text, str) and reply.text.strip()


async def test_decode_profile_lives_in_a_table(engine, db):
    conv = await engine.start_conversation("p")
    await engine.respond(conv, "Hello", seed=1)
    assert table_rows(db, "SELECT name, temperature, max_tokens, copy_tokens FROM decode_profiles") == [
        ("default", 0.5, 40, 200)
    ]
    execute(db, "UPDATE decode_profiles SET max_tokens = 2, copy_tokens = 2, temperature = 0")
    fresh = DBSLMEngine(engine.store)
    reply = await fresh.respond(await fresh.start_conversation("p2"), "What is AI?", seed=1)
    assert len(reply.tokens) <= 2


async def test_concepts_summary_acknowledgement_and_continuation(engine):
    conv = await engine.start_conversation("c")
    for text in (
        "I love astronomy and telescopes",
        "Which telescopes are good for astronomy?",
        "Galaxies! Galaxies too",
    ):
        await engine.respond(conv, text, seed=1)
    summary = await engine.respond(conv, "What did we discuss?", seed=1)
    assert summary.concept == "summary" and summary.text == "We talked about astronomy, telescopes and galaxies."
    ack = await engine.acknowledge(conv, "Saturn has rings.")
    assert ack.concept == "acknowledge" and ack.text.endswith("Saturn has rings.")
    fresh = await engine.start_conversation("d")
    assert (await engine.respond(fresh, "what did we discuss", seed=1)).concept != "summary"  # nothing yet
    model = await engine.store.models.model("base")
    await engine.concepts.add_concept(model.id, Concept("muse", ["give me a thought"], "Here is a thought:", None, 0.9))
    assert (await engine.respond(fresh, "Give me a thought", seed=2)).concept != "muse"  # read with the model
    engine.replier.reload()
    muse = await engine.respond(fresh, "Give me a thought", seed=2)
    assert muse.concept == "muse" and muse.text.startswith("Here is a thought:") and len(muse.tokens) > 4


async def test_banned_words_are_never_generated(engine):
    banned = DBSLMEngine(engine.store, banned_words={"Hi", "Hello", "Good", "Fine"})
    for seed in range(10):
        reply = await banned.respond(await banned.start_conversation("b"), "Hello", seed=seed)
        assert not {"Hi", "Hello", "Good", "Fine"} & set(reply.tokens), reply.text


async def test_a_long_learned_answer_is_copied_whole_past_the_length_cap(tmp_path):
    steps = " ".join(f"step {i} is done;" for i in range(1, 21)) + " and that is all."  # 84 tokens
    engine = await DBSLMEngine.open(str(tmp_path / "long.sqlite3"))
    await engine.train_dialog([("How do I build it?", steps), ("Where do you live?", "In a database file.")])
    reply = await engine.respond(await engine.start_conversation("l"), "How do I build it?", seed=3)
    await engine.close()
    assert len(reply.tokens) > DecodeSettings().max_tokens and reply.text == steps


async def test_a_copied_answer_keeps_its_spacing_and_lines(tmp_path):
    code = 'Like this:\n```\n#!/bin/bash\nls -la /usr/bin && echo "done"\n```'
    engine = await DBSLMEngine.open(str(tmp_path / "code.sqlite3"))
    await engine.train_dialog([("How do I list a folder?", code), ("Where do you live?", "In a database file.")])
    conversation = await engine.start_conversation("c")
    reply = await engine.respond(conversation, "How do I list a folder?", seed=3)
    assert reply.text == code and detokenize(reply.tokens) != code  # the tokens alone lose the spacing
    await engine.record_correction(conversation, "Use `ls -la` in it, or  C++'s std::filesystem.")
    corrected = await engine.respond(conversation, "How do I list a folder?", seed=3)
    await engine.close()
    assert corrected.text == "Use `ls -la` in it, or  C++'s std::filesystem."


async def test_a_correction_names_its_question_and_covers_its_rephrasings(dialog_engine):
    conv = await dialog_engine.start_conversation("ann")
    await dialog_engine.respond(conv, "What is AI?", seed=1)
    correction = await dialog_engine.record_correction(conv, "AI is a talking database.")
    ack = await dialog_engine.acknowledge(conv, "AI is a talking database.", correction)
    assert ack.text == "Thanks! From now on I will answer \u201cWhat is AI?\u201d with: AI is a talking database."
    for rephrased in ("What's AI?", "whats AI", "what is ai", "AI, what is it?"):
        assert (await dialog_engine.respond(conv, rephrased, seed=2)).text == "AI is a talking database.", rephrased
    for other in ("Is AI dangerous?", "What is a computer?", "Who made AI?"):
        assert (await dialog_engine.respond(conv, other, seed=2)).text != "AI is a talking database.", other


def test_contractions_are_spelled_out_for_matching():
    from dbslm.memory.retrieval import plain_words

    tokenize = get_tokenizer("regex").tokenize
    assert plain_words(tokenize("What's up? I can't, you won\u2019t, we're")) == [
        "what",
        "is",
        "up",
        "i",
        "can",
        "not",
        "you",
        "will",
        "not",
        "we",
        "are",
    ]
