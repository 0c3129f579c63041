"""Communities learn how their people answer each other: a message that answers another (a
reply, a thread reply, the next message by someone else within minutes) is learned after it,
as a pair, and forgetting either side, deleting or editing one, leaves exactly the model
trained without it. On both backends."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest

from bot.core import BotCore
from bot.events import Message
from dbslm.domain import Status
from dbslm.engine import DBSLMEngine
from dbslm.listening.backfill import HistoryPage
from dbslm.listening.pairing import ANSWER_SECONDS
from dbslm.reply.association import load_vectors
from dbslm.store.queue import CHANNEL
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import resolve_model, train
from tests.helpers import SETTINGS as COMMUNITY_SETTINGS
from tests.helpers import assert_same_model, ngrams_by_text

SETTINGS = replace(COMMUNITY_SETTINGS, listen_batch=100, listen_seconds=60)  # batches when a test says
T0 = time.time()  # the messages are sent now, a few minutes apart
IDS = itertools.count(1)
TOKENIZE = get_tokenizer("regex").tokenize


@pytest.fixture
async def core(db):
    engine = await DBSLMEngine.open(db)
    await engine.train_dialog([("hello", "hi there, how are you?"), ("what is the festival?", "A day of songs.")])
    core = BotCore(engine, SETTINGS)
    await core.handle(Message("discord", "g1", "c1", "admin", "/listen on", is_admin=True, message_id="0"), _ignore)
    yield core
    await core.close()
    await engine.close()


def message(text: str, user: str, at: float, **fields) -> Message:
    return Message("discord", "g1", "c1", user, text, message_id=f"m{next(IDS)}", sent_at=T0 + at, **fields)


async def hear(core: BotCore, *messages: Message) -> None:
    for m in messages:
        await core.handle(m, _ignore)


async def community(core: BotCore) -> DBSLMEngine:
    return await core.communities.engine_named("discord:g1")


async def learn(core: BotCore) -> None:
    """Learn what is queued (and subtract what is marked), as the next batch does."""
    engine = await community(core)
    await engine.learning.forget_marked()
    await engine.learning.learn_queued()


async def pairs_of(core: BotCore) -> list[tuple[str | None, str]]:
    """What the community learned: each message after its prompt, in learning order."""
    engine = await community(core)
    return [m.pair for m in await engine.learning.messages(status=Status.LEARNED)]


async def channel_pairs(core: BotCore) -> list[tuple[str, str]]:
    engine = await community(core)
    rows = await engine.store.db.fetchall(
        "SELECT prompt, response FROM pairs WHERE model_id = ? AND source = ? ORDER BY id",
        (await engine.model_id(), CHANNEL),
    )
    return [(r[0], r[1]) for r in rows]


async def assert_model_of(core: BotCore, pairs: list[tuple[str | None, str]], name: str) -> None:
    """The community's n-grams are those of a fresh model trained on exactly ``pairs`` (each
    message after the last two tokens of its prompt: order 3)."""
    engine = await community(core)
    alone = await resolve_model(engine.store, name, None, None, reset=False)
    assert alone.order == 3
    await train(engine.store, alone, dialog=[(TOKENIZE(p)[-2:] if p else [], TOKENIZE(t)) for p, t in pairs])
    assert_same_model(await ngrams_by_text(engine.store, "discord:g1"), await ngrams_by_text(engine.store, name))


async def assert_learned(core: BotCore, pairs: list[tuple[str | None, str]], name: str) -> None:
    """The community learned exactly ``pairs`` (in any order), and its model is theirs."""
    assert sorted(await pairs_of(core), key=str) == sorted(pairs, key=str)
    await assert_model_of(core, pairs, name)


async def exchange(core: BotCore, question: str, answer: str) -> tuple[Message, Message]:
    """x asks, y answers twenty seconds later; both learned."""
    asked, answered = message(question, "x", 0), message(answer, "y", 20)
    await hear(core, asked, answered)
    await learn(core)
    return asked, answered


async def _ignore(text: str, *, private: bool = False) -> None:
    pass


async def test_the_next_message_by_someone_else_answers_the_one_before(core):
    ask = message("where do herons nest in winter?", "x", 0)
    answer = message("herons nest in the tall reeds", "y", 40)
    more = message("and they eat small fish", "y", 50)  # the same person again: no prompt
    late = message("thanks, that helps", "x", 50 + ANSWER_SECONDS + 1)  # too late to answer
    await hear(core, ask, answer, more, late)
    await learn(core)
    expected = [(None, ask.text), (ask.text, answer.text), (None, more.text), (None, late.text)]
    assert await pairs_of(core) == expected
    assert await channel_pairs(core) == [(ask.text, answer.text)]
    await assert_model_of(core, expected, "alone-1")


async def test_replies_and_thread_replies_answer_their_message(core):
    ask = message("who keeps the lantern keys?", "x", 0)
    other = message("the market opens at nine", "z", 10)
    reply = message("I keep the lantern keys", "y", 20, reply_to=ask.message_id, replied=ask)
    late_thread = message("the keys are at the gate now", "z", 9000, reply_to=ask.message_id)  # found by its id
    await hear(core, ask, other, reply, late_thread)
    await learn(core)
    assert await pairs_of(core) == [
        (None, ask.text),
        (ask.text, other.text),
        (ask.text, reply.text),
        (ask.text, late_thread.text),
    ]


async def test_nothing_answers_a_bot_a_command_or_oneself(core):
    ask = message("is the ferry running today?", "x", 0)
    await hear(core, ask, message("it runs at noon", "bot", 5, from_bot=True), message("great, see you there", "x", 9))
    await hear(core, message("/stats", "y", 12), message("the ferry is late again", "y", 15))
    await learn(core)
    assert [p for p, _ in await pairs_of(core)] == [None, None, None]
    assert await channel_pairs(core) == []


async def test_forgetting_either_side_leaves_the_model_trained_without_them(core):
    ask = message("what colour are the lanterns this year?", "x", 0)
    answer = message("the lanterns are blue this year", "y", 30)
    follow = message("blue lanterns look lovely at night", "x", 60)
    await hear(core, ask, answer, follow)
    await learn(core)
    assert await channel_pairs(core) == [(ask.text, answer.text), (answer.text, follow.text)]
    engine = await community(core)
    await core.communities.forget_user("discord:x", engine)
    assert await pairs_of(core) == [(None, answer.text)]  # learned again on its own
    assert await channel_pairs(core) == []
    assert not (await load_vectors(engine.pairs, await engine.model_id())).words  # recounted without them
    await assert_model_of(core, [(None, answer.text)], "alone-2")


async def test_a_deleted_prompt_unpairs_and_an_edited_one_repairs(core):
    ask, answer = await exchange(core, "when does the choir practise?", "the choir practises on thursdays")
    edited = replace(ask, text="when does the brass band practise?")
    await core.message_edited(edited)
    await learn(core)
    await assert_learned(core, [(None, edited.text), (edited.text, answer.text)], "alone-3")
    assert await channel_pairs(core) == [(edited.text, answer.text)]
    await core.message_deleted(replace(ask, text=""))
    engine = await community(core)
    assert [m.text for m in await engine.learning.messages(status=Status.UNPAIRING)] == [answer.text]
    await learn(core)
    await assert_learned(core, [(None, answer.text)], "alone-4")
    assert await channel_pairs(core) == []


async def test_an_edited_answer_keeps_its_prompt(core):
    ask, answer = await exchange(core, "is the library open late?", "it closes at sevn")
    await core.message_edited(replace(answer, text="it closes at seven"))
    await learn(core)
    await assert_learned(core, [(None, ask.text), (ask.text, "it closes at seven")], "alone-5")


async def test_history_pairs_answers_within_a_page(core):
    past = [
        message("does anyone have a spare tent?", "x", 0),
        message("I have a tent you can borrow", "y", 60),
        message("thank you so much", "x", 100),
        message("no more tents left", "z", 100 + ANSWER_SECONDS * 3),
    ]
    pages = [HistoryPage(list(reversed(past)), None)]

    async def read(cursor: str | None) -> HistoryPage:
        return pages.pop()

    await core.handle(message("/train history", "admin", 9999, is_admin=True, history=read), _ignore)
    await core.commands.wait_for_training()
    await assert_learned(
        core,
        [(None, past[0].text), (past[0].text, past[1].text), (past[1].text, past[2].text), (None, past[3].text)],
        "alone-6",
    )
