"""Communities through the bot core: listening, reply chance, bans, opt-outs, exact forgetting,
and two servers that never see each other's words."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import BotCore
from bot.events import Message
from dbslm.domain import ChannelMessage, Status
from dbslm.listening.backfill import BackfillError, HistoryPage
from dbslm.listening.learning import ChannelLearning
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import resolve_model, train
from tests.helpers import SETTINGS, assert_same_model, ngrams_by_text, owners_of

IDS = itertools.count(1)


@pytest.fixture
def core(dialog_engine):
    return BotCore(dialog_engine, SETTINGS)


async def say(
    core: BotCore, text: str, user: str = "ann", guild: str = "g1", channel: str = "c1", **flags
) -> list[tuple[str, bool]]:
    """Send one message; what the bot answered (text, private)."""
    out: list[tuple[str, bool]] = []

    async def send(reply: str, *, private: bool = False) -> None:
        out.append((reply, private))

    await core.handle(Message("discord", guild, channel, user, text, message_id=str(next(IDS)), **flags), send)
    return out


async def learned(core: BotCore, guild: str = "g1") -> list[str]:
    """Wait for the batches, then the texts the guild's model learned."""
    await core.listener.close()
    engine = await core.communities.engine_named(f"discord:{guild}")
    return [m.text for m in await engine.learning.messages(status=Status.LEARNED)]


async def test_listening_learns_ordinary_messages_only(core):
    assert (await say(core, "/listen on"))[0][1]  # a refusal, privately: ann is no admin
    assert "listening" in (await say(core, "/listen on", is_admin=True))[0][0]
    await say(core, "/optout", user="shy")
    await say(core, "/ban add marmalade", is_admin=True)
    await say(core, "the river is high this spring")
    await say(core, "I am a bot and I say spring things", from_bot=True)
    await say(core, "/history 3")
    await say(core, "my secret spring diary", user="shy")
    await say(core, "marmalade on toast this spring")
    await say(core, "you bastard of a spring")  # on the default ban list
    await say(core, "the ferry runs again in spring", user="bob")
    assert sorted(await learned(core)) == ["the ferry runs again in spring", "the river is high this spring"]
    await say(core, "/optin", user="shy")
    await say(core, "fine, learn this spring line", user="shy")
    assert "fine, learn this spring line" in await learned(core)


async def test_an_opt_out_made_by_another_process_holds_at_the_next_build(dialog_engine):
    core = BotCore(dialog_engine, replace(SETTINGS, listen_batch=100, listen_seconds=60))
    await say(core, "/listen on", is_admin=True)
    await say(core, "my garden has tomatoes", user="shy")
    await say(core, "tomatoes need sun", user="bob")  # answers shy's message
    await say(core, "the bus was late", user="bob")
    engine = await core.communities.engine_named("discord:g1")
    await core.communities.channels.set_opted_out(await engine.model_id(), "discord:shy", True)  # not this core
    assert sorted(await learned(core)) == ["the bus was late", "tomatoes need sun"]
    pairs = {m.text: m.prompt for m in await engine.learning.messages(status=Status.LEARNED)}
    assert pairs == {"tomatoes need sun": None, "the bus was late": None}


async def test_learning_waits_for_the_batch_or_the_timer(core):
    await say(core, "/listen on", is_admin=True)
    for i in range(3):  # under the batch of 4: nothing learned until the timer
        await say(core, f"message number {i} about boats")
    engine = await core.communities.engine_named("discord:g1")
    assert (await engine.stats())["trained"] is False
    await asyncio.sleep(0.3)
    await core.listener.close()
    assert (await engine.stats())["tokens"] == 3 * 5


async def test_reply_chance(core):
    assert not any([await say(core, f"hello {i}") for i in range(200)])  # 0% by default
    await say(core, "/chance 100", is_admin=True)
    assert all([await say(core, f"hello {i}", channel="c1") for i in range(20)])
    await say(core, "/chance 25", is_admin=True, channel="c2")
    answered = sum([bool(await say(core, f"hi {i}", channel="c2")) for i in range(200)])
    assert 34 <= answered <= 66  # the binomial 99% interval of 200 draws at 25%
    assert await say(core, "hello", channel="c3", mentions_bot=True)  # a mention is always answered


async def test_bad_community_commands_change_nothing(core):
    for text, flags in (
        ("/chance 150", {"is_admin": True}),
        ("/chance abc", {"is_admin": True}),
        ("/listen maybe", {"is_admin": True}),
        ("/listen on", {"is_admin": True, "is_dm": True}),
        ("/forget <@42>", {}),
        ("/ban add", {"is_admin": True}),
    ):
        reply = await say(core, text, **flags)
        assert len(reply) == 1 and reply[0][1], text  # one private, clear line
    engine = await core.communities.engine_named("discord:g1")
    state = await core.communities.channel(engine, Message("discord", "g1", "c1", "x", ""))
    assert (state.listening, state.chance) == (False, 0.0)


async def test_two_servers_keep_their_words(core, tmp_path):
    await say(core, "/listen on", is_admin=True, guild="A")
    for i in range(4):
        await say(core, f"the quokka parade {i} is on the pier", guild="A", user=f"a{i}")
    await say(core, "/train the quokka quokka quokka song", is_admin=True, guild="A")
    await core.commands.wait_for_training()
    await core.listener.close()
    b = await core.communities.engine_named("discord:B")
    b_build = (await b.store.models.model("discord:B")).active_build
    replies = [
        r for i in range(30) for r, _ in await say(core, f"tell me about quokka {i}", guild="B", mentions_bot=True)
    ]
    assert replies and not any("quokka" in r.lower() for r in replies)
    assert (await b.store.models.model("discord:B")).active_build == b_build  # A's /train did not touch B
    assert owners_of(str(tmp_path / "dialogs.sqlite3"), "quokka") == {"discord:A"}


async def test_forget_subtracts_exactly_what_a_user_taught(core):
    await say(core, "/listen on", is_admin=True)
    x_lines = ["boats float on the lake", "the lake is cold", "we row boats at dawn"]
    y_lines = ["the lake hides a monster", "monster boats sink"]
    for x, y in itertools.zip_longest(x_lines, y_lines):
        await say(core, x, user="x")
        if y:
            await say(core, y, user="y")
    await core.listener.close()
    assert "confirm" in (await say(core, "/forget", user="y"))[0][0]
    done = (await say(core, "/forget confirm", user="y"))[0][0]
    assert "2 learned" in done
    engine = await core.communities.engine_named("discord:g1")
    alone = replace(await resolve_model(engine.store, "x-alone", None, None, reset=False))
    tokenize = get_tokenizer("regex").tokenize
    await train(engine.store, alone, dialog=[([], tokenize(line)) for line in x_lines])
    assert_same_model(await ngrams_by_text(engine.store, "discord:g1"), await ngrams_by_text(engine.store, "x-alone"))
    assert all(m.user_id != "discord:y" for m in await engine.learning.messages())


async def test_a_deleted_message_is_unlearned_and_an_edit_relearned(core):
    await say(core, "/listen on", is_admin=True)
    kept = [Message("discord", "g1", "c1", "x", f"kept line number {i}", message_id=f"k{i}") for i in range(3)]
    typo = Message("discord", "g1", "c1", "y", "the walrus is pink", message_id="w")
    for m in (*kept, typo):
        await core.handle(m, _ignore)
    await core.listener.close()
    await core.message_edited(replace(typo, text="the walrus is grey"))
    await core.listener.close()
    assert sorted(await learned(core)) == sorted([m.text for m in kept] + ["the walrus is grey"])
    await core.message_deleted(replace(typo, text=""))
    engine = await core.communities.engine_named("discord:g1")
    marked = await engine.learning.messages(status=Status.FORGETTING)
    assert [m.text for m in marked] == ["the walrus is grey"]  # subtracted with the next batch, not at once
    await core.listener.close()
    alone = await resolve_model(engine.store, "kept-alone", None, None, reset=False)
    await train(engine.store, alone, dialog=[([], get_tokenizer("regex").tokenize(m.text)) for m in kept])
    assert_same_model(
        await ngrams_by_text(engine.store, "discord:g1"), await ngrams_by_text(engine.store, "kept-alone")
    )


async def _ignore(text: str, *, private: bool = False) -> None:
    pass


class FakeHistory:
    """A channel's past messages, newest first, in pages of ``size``; fails once at ``fail_at``."""

    def __init__(self, count: int, size: int, fail_at: int | None = None) -> None:
        self.messages = [
            Message(
                "discord",
                "g1",
                "c1",
                f"u{i % 5}",
                f"old message {i} about herons",
                message_id=f"h{i}",
                from_bot=i % 10 == 0,
            )
            for i in range(count, 0, -1)
        ]
        self.size, self.fail_at, self.reads = size, fail_at, 0

    async def __call__(self, cursor: str | None) -> HistoryPage:
        self.reads += 1
        if self.reads == self.fail_at:
            raise BackfillError("Missing Access")
        start = int(cursor or 0)
        end = start + self.size
        return HistoryPage(self.messages[start:end], str(end) if end < len(self.messages) else None)


async def test_history_backfill_learns_each_message_once_and_resumes(core):
    history = FakeHistory(95, 20, fail_at=3)
    out: list[str] = []

    async def send(text: str, *, private: bool = False) -> None:
        out.append(text)

    command = Message("discord", "g1", "c1", "boss", "/train history 1000", is_admin=True, history=history)
    await core.handle(command, send)
    await core.commands.wait_for_training()
    assert "Missing Access" in out[-1] and "learned 36 new of 40 messages read" in out[-1]
    await core.handle(command, send)  # resumes at the third page
    await core.commands.wait_for_training()
    assert "learned 50 new of 55 messages read" in out[-1]  # every tenth message is a bot's
    texts = await learned(core)
    assert sorted(texts) == sorted(m.text for m in history.messages if not m.from_bot)
    assert history.reads == 3 + 3  # two pages, the refused read, then the last three pages
    await core.handle(command, send)  # again from the newest: nothing is learned twice
    await core.commands.wait_for_training()
    assert "learned 0 new of 95" in out[-1]
    assert len(await learned(core)) == len(texts)


async def test_history_backfill_needs_a_readable_channel(core):
    reply = await say(core, "/train history", is_admin=True)  # this platform gave no history reader
    assert reply[0][1] and "history" in reply[0][0]
    reply = await say(core, "/train history lots", is_admin=True, history=FakeHistory(1, 1))
    assert reply[0][1] and reply[0][0].startswith("Usage: /train history [n]")


async def test_what_a_stopped_run_queued_is_learned_at_the_next_start(core, dialog_engine):
    await say(core, "/listen on", is_admin=True)
    engine = await core.communities.engine_named("discord:g1")
    await engine.learning.queue(
        [ChannelMessage("discord:g1:c1:q1", "discord:ann", "discord:g1:c1:", "queued before the stop")]
    )
    restarted = BotCore(dialog_engine, SETTINGS)
    await restarted.start()
    await restarted.close()
    assert await learned(restarted) == ["queued before the stop"]


async def test_shutdown_stops_a_backfill_that_resumes_later(core):
    history = SlowHistory(FakeHistory(60, 20))
    command = Message("discord", "g1", "c1", "boss", "/train history 1000", is_admin=True, history=history)
    await core.handle(command, _ignore)
    await history.second_page.wait()
    await core.close()  # does not wait for the whole history
    engine = await core.communities.engine_named("discord:g1")
    waiting = await engine.learning.messages(status=Status.QUEUED)
    assert len(waiting) == 18  # the first page's 20 messages but its bots', learned at the next start
    await core.handle(command, _ignore)
    history.gate.set()
    await core.commands.wait_for_training()
    assert len(await learned(core)) == 54 and history.reads == 2 + 2  # resumed at the second page


async def test_a_backfill_reads_the_next_pages_while_the_rows_before_are_queued(core, monkeypatch):
    """Queueing a page's rows (a bulk write) and reading and sifting the next pages overlap:
    the pages read meanwhile go in the next queueing together, each message is learned once."""
    history = FakeHistory(80, 10)
    seen_during: list[int] = []  # pages read while each queueing was under way
    queue = ChannelLearning.queue

    async def slow_queue(self: ChannelLearning, messages: list[ChannelMessage]) -> int:
        before = history.reads
        await asyncio.sleep(0.2)  # a write that takes a while (pages come every 10 ms)
        seen_during.append(history.reads - before)
        return await queue(self, messages)

    async def paced(cursor: str | None) -> HistoryPage:
        await asyncio.sleep(0.01)  # a platform's page comes after a round trip
        return await history(cursor)

    monkeypatch.setattr(ChannelLearning, "queue", slow_queue)
    command = Message("discord", "g1", "c1", "boss", "/train history 1000", is_admin=True, history=paced)
    await core.handle(command, _ignore)
    await core.commands.wait_for_training()
    assert max(seen_during) >= 2  # pages were read while rows were being queued
    assert len(seen_during) <= 3  # and went in the next queueing together (one each: 8)
    assert sorted(await learned(core)) == sorted(m.text for m in history.messages if not m.from_bot)


class SlowHistory:
    """A history whose second page waits for ``gate``."""

    def __init__(self, inner: FakeHistory) -> None:
        self.inner, self.reads = inner, 0
        self.second_page, self.gate = asyncio.Event(), asyncio.Event()

    async def __call__(self, cursor: str | None) -> HistoryPage:
        self.reads += 1
        if cursor is not None and not self.gate.is_set():
            self.second_page.set()
            await self.gate.wait()
        return await self.inner(cursor)


async def test_unprompted_replies_never_say_slow_down(dialog_engine):
    core = BotCore(dialog_engine, replace(SETTINGS, channel_rate=2))
    await say(core, "/chance 100", is_admin=True)
    replies = [await say(core, f"chatting along {i}") for i in range(6)]
    assert all(replies[:2]) and not any(replies[2:])  # over the limit: quietly not answered
    assert (await say(core, "hello?", mentions_bot=True))[0][1]  # addressed: told, privately


async def test_an_edit_that_keeps_the_text_changes_nothing(core):
    await say(core, "/listen on", is_admin=True)
    message = Message("discord", "g1", "c1", "x", "a calm lake at noon", message_id="e1")
    await core.handle(message, _ignore)
    await core.listener.close()
    engine = await core.communities.engine_named("discord:g1")
    build = (await engine.stats())["build"]
    await core.message_edited(replace(message, text="a calm lake at noon <@99>"))  # only a mention added
    assert (await engine.stats())["build"] == build


@given(st.text(max_size=300))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_text_in_any_command_gets_an_answer_and_no_exception(core, text):
    for command in (
        "",
        "/listen ",
        "/chance ",
        "/ban add ",
        "/ban remove ",
        "/train history ",
        "/forget ",
        "/stats ",
        "/correct ",
    ):
        replies = await say(core, command + text, is_admin=True, mentions_bot=True)
        assert replies and all(reply.strip() for reply, _ in replies)


async def test_retraining_a_community_from_scratch_forgets_its_learned_rows(core, tmp_path):
    await say(core, "/listen on", is_admin=True)
    for i in range(4):
        await say(core, f"the pier is busy today {i}")
    assert len(await learned(core)) == 4
    text = tmp_path / "fresh.txt"
    text.write_text("a brand new start for this server\n")
    run = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "dbslm",
            "train",
            str(text),
            "--db",
            str(tmp_path / "dialogs.sqlite3"),
            "--model",
            "discord:g1",
            "--reset",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert await learned(core) == []  # the model holds none of them now: nothing claims it does


async def test_an_admin_reviews_only_the_corrections_of_their_own_server(core):
    await say(core, "What is AI?", guild="g1", mentions_bot=True)
    await say(core, "/correct AI is the g1 answer.", guild="g1")
    assert "No corrections" in (await say(core, "/corrections", user="boss", guild="g2", is_admin=True))[0][0]
    listed = (await say(core, "/corrections", user="boss", guild="g1", is_admin=True))[0][0]
    number = listed.split("#")[1].split(" ")[0]
    assert (
        "There is no correction"
        in (await say(core, f"/approve {number}", user="boss", guild="g2", is_admin=True))[0][0]
    )
    assert "Approved" in (await say(core, f"/approve {number}", user="boss", guild="g1", is_admin=True))[0][0]
