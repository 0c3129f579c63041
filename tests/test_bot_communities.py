"""Communities through the bot core: listening, reply chance, bans, opt-outs, exact forgetting,
and two servers that never see each other's words."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace

import pytest

from bot.core import BotCore
from bot.events import Message
from bot.settings import BotSettings
from dbslm.store.schema import TABLES
from dbslm.text.tokenize import get_tokenizer
from dbslm.training import resolve_model, train
from tests.conftest import table_rows
from tests.test_forgetting import assert_same_model, ngrams_by_text

SETTINGS = BotSettings(admins=frozenset(), user_rate=10_000, channel_rate=10_000, rate_window=60, max_upload_mb=1,
                       listen_batch=4, listen_seconds=0.05, chance_seed=7)
IDS = itertools.count(1)


@pytest.fixture
def core(dialog_engine):
    return BotCore(dialog_engine, SETTINGS)


async def say(core: BotCore, text: str, user: str = "ann", guild: str = "g1", channel: str = "c1",
              **flags) -> list[tuple[str, bool]]:
    """Send one message; what the bot answered (text, private)."""
    out: list[tuple[str, bool]] = []

    async def send(reply: str, *, private: bool = False) -> None:
        out.append((reply, private))

    await core.handle(Message("discord", guild, channel, user, text, message_id=str(next(IDS)), **flags), send)
    return out


async def learned(core: BotCore, guild: str = "g1") -> list[str]:
    """Wait for the batches, then the texts the guild's model learned."""
    await core.learner.close()
    engine = await core.communities.engine_named(f"discord:{guild}")
    return [m.text for m in await engine.learning.rows.messages(await engine.model_id(), status="learned")]


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


async def test_learning_waits_for_the_batch_or_the_timer(core):
    await say(core, "/listen on", is_admin=True)
    for i in range(3):  # under the batch of 4: nothing learned until the timer
        await say(core, f"message number {i} about boats")
    engine = await core.communities.engine_named("discord:g1")
    assert (await engine.stats())["trained"] is False
    await asyncio.sleep(0.3)
    await core.learner.close()
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
    for text, flags in (("/chance 150", {"is_admin": True}), ("/chance abc", {"is_admin": True}),
                        ("/listen maybe", {"is_admin": True}), ("/listen on", {"is_admin": True, "is_dm": True}),
                        ("/forget <@42>", {}), ("/ban add", {"is_admin": True})):
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
    await core.learner.close()
    b = await core.communities.engine_named("discord:B")
    b_build = (await b.store.level1.model("discord:B")).active_build
    replies = [r for i in range(30) for r, _ in await say(core, f"tell me about quokka {i}", guild="B",
                                                              mentions_bot=True)]
    assert replies and not any("quokka" in r.lower() for r in replies)
    assert (await b.store.level1.model("discord:B")).active_build == b_build  # A's /train did not touch B
    db = str(tmp_path / "dialogs.sqlite3")
    owner = dict(table_rows(db, "SELECT name, id FROM models"))
    for table in TABLES:  # every row mentioning quokka belongs to A's model
        if "model_id" in table.column_names:
            models = {m for (m,) in table_rows(db, f"SELECT model_id FROM {table.name} "
                                                   f"WHERE {_text_columns(table)} LIKE '%quokka%'")}
            assert models <= {owner["discord:A"]}, table.name


def _text_columns(table) -> str:
    texts = [c for c, kind in table.columns if kind.rstrip("?") in ("text", "name", "ref", "token")]
    return " || ' ' || ".join(f"COALESCE({c}, '')" for c in texts) or "''"


async def test_forget_subtracts_exactly_what_a_user_taught(core):
    await say(core, "/listen on", is_admin=True)
    x_lines = ["boats float on the lake", "the lake is cold", "we row boats at dawn"]
    y_lines = ["the lake hides a monster", "monster boats sink"]
    for x, y in itertools.zip_longest(x_lines, y_lines):
        await say(core, x, user="x")
        if y:
            await say(core, y, user="y")
    await core.learner.close()
    assert "confirm" in (await say(core, "/forget", user="y"))[0][0]
    done = (await say(core, "/forget confirm", user="y"))[0][0]
    assert "2 learned" in done
    engine = await core.communities.engine_named("discord:g1")
    alone = replace(await resolve_model(engine.store, "x-alone", None, None, reset=False))
    tokenize = get_tokenizer("regex").tokenize
    await train(engine.store, alone, dialog=[([], tokenize(line)) for line in x_lines])
    assert_same_model(await ngrams_by_text(engine.store, "discord:g1"), await ngrams_by_text(engine.store, "x-alone"))
    assert all(m.user_id != "discord:y" for m in await engine.learning.rows.messages(await engine.model_id()))
