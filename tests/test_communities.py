"""Community models over a shared base: their own counts, the base's distribution underneath,
and nothing of one community in another's tables or replies."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from dbslm.domain import ChannelMessage, Status
from dbslm.engine import DBSLMEngine
from dbslm.errors import DatabaseError
from dbslm.listening import learning
from dbslm.reply.replier import UNTRAINED_REPLY
from dbslm.text.vocab import BOS
from tests.helpers import LINES, table_rows

ZORBLAX = [
    "the zorblax festival starts at dawn",
    "we paint the zorblax lanterns blue",
    "everyone sings the zorblax song",
] * 3


@pytest.fixture
async def base(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello", "hi there, how are you?"), ("what is the festival?", "A day of songs.")])
    yield engine
    await engine.close()


async def alone(base: DBSLMEngine, texts: list[str]) -> tuple[dict, int]:
    """The n-grams per order and tokens of a fresh community that learned exactly ``texts``."""
    engine = DBSLMEngine(base.store, "discord:2", base=base)
    await engine.learning.queue(
        [ChannelMessage(f"discord:2:c:{i:03}", "ann", "discord:2:c", t) for i, t in enumerate(texts)]
    )
    await engine.learning.learn_queued()
    return model_size(await engine.stats())


def model_size(stats: dict) -> tuple[dict, int]:
    return stats["ngrams"], stats["tokens"]


async def test_a_new_community_answers_from_the_base(base):
    community = DBSLMEngine(base.store, "discord:1", base=base)
    reply = await community.respond(await community.start_conversation("ann"), "hello", seed=1)
    assert reply.text != UNTRAINED_REPLY and reply.text
    assert (await base.store.models.model("discord:1")).active_build is None  # nothing trained into it


async def test_community_words_stay_in_their_community(base, db):
    a = DBSLMEngine(base.store, "discord:1", base=base)
    b = DBSLMEngine(base.store, "discord:2", base=base)
    await a.train_dialog([("what is on this week?", line) for line in ZORBLAX])
    await b.train_dialog([("what is on this week?", "the harvest market opens on friday")] * 3)
    replies_a = [
        (await a.respond(await a.start_conversation("ann"), "what is on this week?", seed=s)).text for s in range(5)
    ]
    replies_b = [
        (await b.respond(await b.start_conversation("bob"), "what is on this week?", seed=s)).text for s in range(10)
    ]
    assert any("zorblax" in r for r in replies_a)
    assert not any("zorblax" in r for r in replies_b) and any("harvest" in r for r in replies_b)
    owners = {name: model_id for model_id, name in table_rows(db, "SELECT id, name FROM models")}
    zorblax_vocab = {m for (m,) in table_rows(db, "SELECT model_id FROM vocab WHERE text = 'zorblax'")}
    assert zorblax_vocab == {owners["discord:1"]}


async def test_the_mixture_interpolates_both_models(base):
    community = DBSLMEngine(base.store, "discord:1", base=base, base_weight=0.25)
    await community.train_text(ZORBLAX + ["hi there friend"])
    loaded = await community.replier.load()
    base_loaded, own_vocab = await base.replier.load(), await base.store.models.vocabulary(loaded.model)
    history = [1, loaded.vocab.index["hi"], loaded.vocab.index["there"]]
    words, logp = await loaded.reader.candidates(history)
    own_words, own_logp = await loaded.own.candidates([1, own_vocab.index["hi"], own_vocab.index["there"]])
    base_words, base_logp = await base_loaded.reader.candidates(
        [1, base_loaded.vocab.index["hi"], base_loaded.vocab.index["there"]]
    )
    assert loaded.vocab.texts[: len(base_loaded.vocab)] == base_loaded.vocab.texts  # the base's ids come first
    assert "zorblax" in loaded.vocab.index and "zorblax" not in base_loaded.vocab.index
    expected: dict[str, float] = {}
    for w, lp in zip(own_words, own_logp):
        expected[own_vocab.texts[w]] = 0.75 * 10**lp
    for w, lp in zip(base_words, base_logp):
        text = base_loaded.vocab.texts[w]
        expected[text] = expected.get(text, 0.0) + 0.25 * 10**lp
    got = {loaded.vocab.texts[w]: 10**lp for w, lp in zip(words, logp)}
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], list(expected.values()), rtol=1e-12)


async def test_a_batch_only_adds_its_new_words_to_the_combined_vocabulary(base):
    """The combined vocabulary numbers the base's words as the base does, then the community's
    own; a batch learned in place keeps every id and appends the words it brings."""
    community = DBSLMEngine(base.store, "discord:1", base=base)
    await community.train_text([" ".join(line) for line in LINES[:200]] + ZORBLAX)  # big enough to learn in place
    before = await community.replier.load()
    ids = dict(before.vocab.index)
    await community.train_text(["the zorblax quokka dances", "the zorblax quokka sleeps"])
    after = await community.replier.load()
    assert (after.builds[0], after.builds[1]) == (before.builds[0], before.builds[1] + 1)  # in place
    assert after.vocab is before.vocab and all(after.vocab.index[text] == i for text, i in ids.items())
    quokka = after.vocab.index["quokka"]
    assert quokka >= len(ids) and after.vocab.texts[quokka] == "quokka"
    history = [BOS, after.vocab.index["the"], after.vocab.index["zorblax"]]
    assert quokka in (await after.reader.candidates(history)).words
    assert quokka not in (await before.reader.candidates(history)).words  # the version before lacks it


async def test_a_long_queue_is_learned_in_bounded_builds(base, monkeypatch):
    monkeypatch.setattr(learning, "BUILD_MOST", 10)
    community = DBSLMEngine(base.store, "discord:1", base=base)
    await community.learning.queue([ChannelMessage("discord:1:c:99", "ann", "discord:1:c", "one more")])
    await community.learning.learn_queued()
    first = (await base.store.models.model("discord:1")).active_build
    texts = [f"message number {i} about the zorblax" for i in range(25)]
    await community.learning.queue(
        [ChannelMessage(f"discord:1:c:{i:02}", "ann", "discord:1:c", text) for i, text in enumerate(texts)]
    )
    report = await community.learning.learn_queued()
    assert report.sentences == 25
    model = await base.store.models.model("discord:1")
    assert model.active_build - first + model.version == 3  # 10, 10 and 5 messages: new builds or in place
    assert len(await community.learning.messages(status=Status.LEARNED)) == 26

    monkeypatch.setattr(learning, "BUILD_MOST", 100)
    assert model_size(await community.stats()) == await alone(base, texts + ["one more"])  # in one build


async def test_a_message_queued_during_a_build_waits_for_the_next(base):
    community = DBSLMEngine(base.store, "discord:1", base=base)
    late = ChannelMessage("discord:1:c:00", "bob", "discord:1:c", "a late zorblax message")  # first in key order
    take, calls = community.learning.heard.take, []

    async def more_arrive_meanwhile(model_id: int, most: int, last: int):
        batch = await take(model_id, most, last)
        if not calls:
            await community.learning.queue([late])
        calls.append(batch and [text for _, text in batch.pairs])
        return batch

    community.learning.heard.take = more_arrive_meanwhile
    await community.learning.queue(
        [ChannelMessage(f"discord:1:c:{i}", "ann", "discord:1:c", text) for i, text in enumerate(ZORBLAX[:3], 1)]
    )
    report = await community.learning.learn_queued()
    assert calls == [ZORBLAX[:3], None] and report.sentences == 3  # a stream of messages never keeps it building
    assert [m.status for m in await community.learning.messages(message_key=late.message_key)] == [Status.QUEUED]
    report = await community.learning.learn_queued()
    assert calls[2:] == [[late.text], None] and report.sentences == 1  # the late one in a build of its own, once
    assert {m.message_key: m.status for m in await community.learning.messages()} == {
        "discord:1:c:00": Status.LEARNED,
        "discord:1:c:1": Status.LEARNED,
        "discord:1:c:2": Status.LEARNED,
        "discord:1:c:3": Status.LEARNED,
    }


@pytest.mark.parametrize("meanwhile", ["learns the batch", "drops a message"])
async def test_a_batch_another_process_changed_never_goes_live(base, meanwhile):
    """Two engines on one database with locks of their own, as two bot processes have: while
    the second builds a batch, the first learns it or drops one of its messages (deleted on
    the platform); the second's build never goes live and it takes the queue again."""
    first, second = (DBSLMEngine(base.store, "discord:1", base=base) for _ in range(2))
    await first.learning.queue(
        [ChannelMessage(f"discord:1:c:{i}", "ann", "discord:1:c", text) for i, text in enumerate(ZORBLAX[:3])]
    )
    take, taken = second.learning.heard.take, []

    async def the_first_acts_meanwhile(model_id: int, most: int, last: int):
        batch = await take(model_id, most, last)
        if not taken and meanwhile == "learns the batch":
            await first.learning.learn_queued()
        elif not taken:
            await first.learning.forget_later(["discord:1:c:0"])
        taken.append(batch and [text for _, text in batch.pairs])
        return batch

    second.learning.heard.take = the_first_acts_meanwhile
    report = await second.learning.learn_queued()
    kept = ZORBLAX[:3] if meanwhile == "learns the batch" else ZORBLAX[1:3]
    assert taken == [ZORBLAX[:3], None] if meanwhile == "learns the batch" else [ZORBLAX[:3], kept, None]
    assert (report and report.sentences) == (None if meanwhile == "learns the batch" else 2)
    assert model_size(await first.stats()) == await alone(base, kept)


async def test_queueing_learning_and_dropping_at_once_keep_the_table_true(base):
    """Two engines (as two processes) queue, learn and drop messages of one model all at once:
    no transaction deadlocks, and the model is exactly the one trained on the rows the table
    says it learned."""
    first, second = (DBSLMEngine(base.store, "discord:1", base=base) for _ in range(2))

    def page(p: int) -> list[ChannelMessage]:
        return [
            ChannelMessage(f"discord:1:c:{p:02}{i:02}", f"u{i % 3}", "discord:1:c", f"{ZORBLAX[i % 9]} {p} {i}")
            for i in range(40)
        ]

    async def queue() -> None:
        for p in range(12):
            await first.learning.queue(page(p))

    async def drop() -> None:
        for p in range(12):
            await second.learning.forget_later([f"discord:1:c:{p:02}07", f"discord:1:c:{p:02}31"])
            await asyncio.sleep(0.01)

    async def learn(engine: DBSLMEngine) -> None:
        for _ in range(6):
            await engine.learning.forget_marked()
            await engine.learning.learn_queued()
            await asyncio.sleep(0.01)

    await asyncio.gather(queue(), drop(), learn(first), learn(second))
    await first.learning.forget_marked()
    await first.learning.learn_queued()
    learned = await first.learning.messages(status=Status.LEARNED)
    assert await first.learning.messages() == learned  # nothing pending or marked is left
    assert 400 < len(learned) < 480
    assert model_size(await first.stats()) == await alone(base, [m.text for m in learned])


async def test_a_message_another_process_subtracted_is_not_subtracted_twice(base):
    """The same text learned twice, one copy deleted on the platform; two engines (as two
    processes) both read the marked copy, the first subtracts it, then the second tries to."""
    first, second = (DBSLMEngine(base.store, "discord:1", base=base) for _ in range(2))
    await first.learning.queue([ChannelMessage(f"discord:1:c:{i}", "ann", "discord:1:c", ZORBLAX[0]) for i in range(2)])
    await first.learning.learn_queued()
    await first.learning.forget_later(["discord:1:c:0"])
    read, reads = second.learning.heard.messages, []

    async def the_first_subtracts_meanwhile(*args, **kwargs):
        found = await read(*args, **kwargs)
        if kwargs.get("status") != "forgetting":
            return found  # the messages that answer those (none here)
        if not reads:
            await first.learning.forget_marked()
        reads.append([m.message_key for m in found])
        return found

    second.learning.heard.messages = the_first_subtracts_meanwhile
    assert await second.learning.forget_marked() is None  # its build was refused: nothing left to do
    assert reads == [["discord:1:c:0"], []]
    assert model_size(await first.stats()) == await alone(base, [ZORBLAX[0]])


async def test_messages_queued_at_once_keep_their_own_counts_and_failures(base):
    """Messages of busy channels queued at the same moment share a commit: each caller hears
    how many of its own messages were new, and a message the database refuses fails its own
    caller only."""
    community = DBSLMEngine(base.store, "discord:1", base=base)
    queue = community.learning.queue

    def said(i: int, text: str | None = "a zorblax message") -> ChannelMessage:
        return ChannelMessage(f"discord:1:c:{i:03}", "ann", "discord:1:c", text)

    assert await queue([said(0)]) == 1
    counts = await asyncio.gather(queue([said(0)]), *(queue([said(i)]) for i in range(1, 21)), queue([said(5)]))
    assert counts == [0] + [1] * 20 + [0]  # queued before, new, and the same message twice at once counts once
    refused = await asyncio.gather(
        queue([said(30)]), queue([said(31, None)]), queue([said(32)]), return_exceptions=True
    )
    assert refused[0] == refused[2] == 1 and isinstance(refused[1], DatabaseError)
    queued = await community.learning.messages()
    assert [m.message_key for m in queued] == [f"discord:1:c:{i:03}" for i in (*range(21), 30, 32)]


async def test_the_waiting_count_and_the_models_with_work_name_only_waiting_messages(base, monkeypatch):
    monkeypatch.setattr("dbslm.store.queue.PER_STATEMENT", 2)  # three models: the questions in two statements
    communities = {name: DBSLMEngine(base.store, name, base=base) for name in ("discord:a", "discord:b", "discord:c")}
    for name, engine in communities.items():
        rows = [ChannelMessage(f"{name}:c:{i}", "ann", f"{name}:c", f"zorblax note {i} of {name}") for i in range(4)]
        await engine.learning.queue(rows[:3])
        await engine.learning.learn_queued()
        if name == "discord:a":
            await engine.learning.queue(rows[3:])  # one message waits for its batch
    await communities["discord:c"].learning.forget_later(["discord:c:c:1"])  # one waits to be subtracted
    heard = base.learning.heard
    assert await heard.waiting() == 1
    assert await heard.models_waiting() == ["discord:a", "discord:c"]
    await communities["discord:a"].learning.learn_queued()
    await communities["discord:c"].learning.forget_marked()
    assert await heard.waiting() == 0
    assert await heard.models_waiting() == []


async def test_a_communitys_own_answer_to_a_question_outranks_its_bases(base):
    community = DBSLMEngine(base.store, "discord:1", base=base)
    other = DBSLMEngine(base.store, "discord:2", base=base)
    await base.train_dialog([("What is your name?", "My name is dbslm.")])
    await community.train_dialog([("What is your name?", "I am Marvin.")])
    await other.train_dialog([("where is the market?", "By the river.")])
    ask = "What is your name?"
    ours = [(await community.respond(await community.start_conversation("ann"), ask, seed=s)).text for s in range(8)]
    theirs = [(await other.respond(await other.start_conversation("bob"), ask, seed=s)).text for s in range(4)]
    assert ours == ["I am Marvin."] * 8
    assert theirs == ["My name is dbslm."] * 4  # a community that learned no answer keeps the base's
