"""Communities over the wire: two servers on one bot, listening, history backfill, deletions and
edits, and bad community commands, on the real discord.py client against the fake Discord."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from adapters.discord.tests.fake_discord import ADMIN_ROLE, BOT, GUILD, GUILD_B, FakeDiscord, user
from adapters.discord.tests.harness import ANN, BOSS, ask, followups, running_bot
from bot.core import BotCore
from bot.events import Message
from dbslm.domain import ChannelState, Status
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import resolve_model, train
from tests.helpers import SETTINGS as COMMUNITY_SETTINGS
from tests.helpers import assert_same_model, eventually, ngrams_by_text, owners_of, table_rows

OPERATOR = user("5", "operator")  # in BOT_ADMINS
SHY = user("8", "shy")
SETTINGS = replace(COMMUNITY_SETTINGS, admins=frozenset({"discord:5"}), listen_seconds=0.1)
IDS = itertools.count(5000)


@pytest.fixture
def core(dialog_engine):
    """The bot core with small listening batches (overrides the adapter tests' core)."""
    return BotCore(dialog_engine, SETTINGS)


async def say(
    fake: FakeDiscord, channel: str, author: dict, text: str, guild: str = GUILD, roles: tuple[str, ...] = ()
) -> dict:
    """Post ``text`` in ``channel`` without mentioning the bot; the message as dispatched."""
    message = fake.message(str(next(IDS)), channel, author, text, guild, roles=roles)
    await fake.dispatch("MESSAGE_CREATE", message)
    return message


async def learned(core: BotCore, status: str | None = "learned", guild: str = GUILD) -> list[str]:
    """The texts the server's model learned (any status: queued ones too), sorted."""
    engine = await core.communities.engine_named(f"discord:{guild}")
    return sorted(m.text for m in await engine.learning.messages(status=status))


async def channel_state(core: BotCore, channel: str) -> ChannelState:
    engine = await core.communities.engine_named(f"discord:{GUILD}")
    return await core.communities.channel(engine, Message("discord", GUILD, channel, "", ""))


def builds(db: str, guild: str) -> int:
    return table_rows(
        db, "SELECT COUNT(*) FROM builds b JOIN models m ON m.id = b.model_id WHERE m.name = ?", (f"discord:{guild}",)
    )[0][0]


def past(channel: str, count: int) -> list[dict]:
    """``count`` past messages of ``channel``, newest first; every tenth is a bot's."""
    return [
        FakeDiscord.message(
            str(10_000 + i),
            channel,
            user(f"2{i % 5}", "member") if i % 10 else user("3", "helper", bot=True),
            f"old message {i} about herons",
        )
        for i in range(count, 0, -1)
    ]


def people(messages: list[dict]) -> list[str]:
    return sorted(m["content"] for m in messages if not m["author"].get("bot"))


async def test_two_servers_keep_their_words(discord_bot, core, tmp_path):
    fake = discord_bot
    [on] = await followups(fake, await fake.slash("listen", BOSS, (ADMIN_ROLE,), state="on"), 1)
    assert on["content"].startswith("I am listening in this channel now") and not on["ephemeral"]
    for i in range(4):
        await say(fake, "60", user(f"2{i}", f"a{i}"), f"the quokka parade {i} is on the pier")
    trained = await followups(fake, await fake.slash("train", BOSS, (ADMIN_ROLE,), text="the quokka song"), 2)
    assert trained[1]["content"].startswith("Trained on message.txt")
    parade = sorted(f"the quokka parade {i} is on the pier" for i in range(4))
    await eventually(lambda: learned(core), lambda texts: texts == parade)
    replies = [await ask(fake, "80", f"tell me about quokka {i}", GUILD_B) for i in range(20)]
    assert all(replies) and not any("quokka" in r.lower() for r in replies)
    db = str(tmp_path / "dialogs.sqlite3")
    assert owners_of(db, "quokka") == {f"discord:{GUILD}"}
    assert builds(db, GUILD_B) == 0 and builds(db, GUILD) > 0
    [refused] = await followups(fake, await fake.slash("listen", BOSS, (), channel="80", state="on"), 1)
    assert refused["content"] == "Only admins can use /listen." and refused["ephemeral"]
    await say(fake, "80", BOSS, "/listen on", GUILD_B)
    assert (await fake.wait_for_messages(21))[-1]["content"] == "Only admins can use /listen."
    b = await core.communities.engine_named(f"discord:{GUILD_B}")
    assert not (await core.communities.channel(b, Message("discord", GUILD_B, "80", "", ""))).listening


async def test_listening_learns_ordinary_messages_only(discord_bot, core):
    fake = discord_bot
    await say(fake, "60", BOSS, "/listen on", roles=(ADMIN_ROLE,))
    assert (await fake.wait_for_messages(1))[0]["content"].startswith("I am listening")
    [out] = await followups(fake, await fake.slash("optout", SHY), 1)
    assert out["content"].startswith("I will not learn from your messages") and out["ephemeral"]
    await followups(fake, await fake.slash("ban", BOSS, (ADMIN_ROLE,), action="add", words="marmalade"), 1)
    await say(fake, "60", user("4", "robot", bot=True), "robots sing of spring")
    await say(fake, "60", BOT, "I say spring things too")
    await say(fake, "60", ANN, "/history 3")
    await say(fake, "60", SHY, "my secret spring diary")
    await say(fake, "60", ANN, "marmalade on toast this spring")
    await say(fake, "60", ANN, "the river is high this spring")
    await eventually(
        lambda: learned(core),
        lambda texts: texts == ["the river is high this spring"],
        timeout=SETTINGS.listen_seconds + 2,
    )
    assert await learned(core, status=None) == ["the river is high this spring"]  # nothing else even queued


async def test_history_backfill_reads_every_page_and_waits_out_a_rate_limit(discord_bot, core):
    fake = discord_bot
    fake.history["60"], fake.history_faults["60"] = past("60", 250), [429]
    started, done = await followups(fake, await fake.slash("train", BOSS, (ADMIN_ROLE,), history=1000), 2)
    assert started["content"].startswith("Reading up to 1,000 past messages")
    assert "History: learned 225 new of 250 messages read" in done["content"]
    reads = fake.reads
    assert [(r["before"], r["limit"], r["status"]) for r in reads] == [
        (None, 100, 429),
        (None, 100, 200),
        ("10151", 100, 200),
        ("10051", 100, 200),
    ]
    assert reads[1]["at"] - reads[0]["at"] >= 0.2  # the retry came after retry_after
    assert await learned(core) == people(fake.history["60"])  # each once


async def test_an_interrupted_backfill_resumes_after_a_restart_and_learns_nothing_twice(fake_discord, dialog_engine):
    fake = fake_discord
    fake.history["60"], fake.history_faults["60"] = past("60", 250), [200, 403]
    async with running_bot(fake, BotCore(dialog_engine, SETTINGS)):
        await say(fake, "60", BOSS, "/train history", roles=(ADMIN_ROLE,))
        refused = (await fake.wait_for_messages(2))[1]["content"]
        assert refused.startswith(
            "I could not read this channel's history: Missing Access. History: learned 90 new of 100 messages read"
        )
    core = BotCore(dialog_engine, SETTINGS)  # a restart
    async with running_bot(fake, core):
        await say(fake, "60", BOSS, "/train history", roles=(ADMIN_ROLE,))
        assert "History: learned 135 new of 150 messages read" in (await fake.wait_for_messages(4))[3]["content"]
        assert [r["before"] for r in fake.reads] == [None, "10151", "10151", "10051"]
        assert await learned(core) == people(fake.history["60"])
        await say(fake, "60", BOSS, "/train history", roles=(ADMIN_ROLE,))  # again from the newest
        assert "History: learned 0 new of 250 messages read" in (await fake.wait_for_messages(6))[5]["content"]
        assert await learned(core, status=None) == people(fake.history["60"])


async def test_a_channel_the_bot_cannot_read_gets_a_clear_reply(discord_bot, core, tmp_path):
    fake = discord_bot
    fake.history["61"], fake.history_faults["61"] = past("61", 30), [403]
    _, done = await followups(fake, await fake.slash("train", BOSS, (ADMIN_ROLE,), channel="61", history=50), 2)
    assert done["content"].startswith(
        "I could not read this channel's history: Missing Access. History: learned 0 new of 0 messages read"
    )
    assert await learned(core, status=None) == [] and builds(str(tmp_path / "dialogs.sqlite3"), GUILD) == 0
    assert (await channel_state(core, "61")).backfill_cursor is None


async def test_a_deleted_message_is_unlearned_and_an_edit_relearned(discord_bot, core):
    fake = discord_bot
    await say(fake, "60", BOSS, "/listen on", roles=(ADMIN_ROLE,))
    await fake.wait_for_messages(1)  # each message is handled in its own task: listen first
    kept = [f"kept line number {i}" for i in range(3)]
    for text in kept:
        await say(fake, "60", user("21", "x"), text)
    typo = await say(fake, "60", user("22", "y"), "the walrus is pink <@21>")
    # learned without its mention (mentions are never learned)
    await eventually(lambda: learned(core), lambda texts: texts == sorted(kept + ["the walrus is pink"]))
    await fake.edit(typo, "the walrus is grey")
    await eventually(lambda: learned(core), lambda texts: texts == sorted(kept + ["the walrus is grey"]))
    await fake.delete(typo["id"], "60")
    await eventually(lambda: learned(core, status=None), lambda texts: texts == kept)
    purged = [await say(fake, "60", user("23", "z"), f"spam number {i}") for i in range(2)]
    await eventually(lambda: learned(core), lambda texts: texts == sorted(kept + ["spam number 0", "spam number 1"]))
    await fake.delete_bulk([m["id"] for m in purged], "60")
    await eventually(lambda: learned(core, status=None), lambda texts: texts == kept)
    engine = await core.communities.engine_named(f"discord:{GUILD}")
    alone = await resolve_model(engine.store, "kept-alone", None, None, reset=False)
    await train(engine.store, alone, dialog=[([], get_tokenizer("regex").tokenize(text)) for text in kept])
    assert_same_model(
        await ngrams_by_text(engine.store, f"discord:{GUILD}"), await ngrams_by_text(engine.store, "kept-alone")
    )


async def test_bad_community_commands_change_nothing_and_an_admin_forgets_a_member(discord_bot, core):
    fake = discord_bot
    await say(fake, "61", BOSS, "/listen on", roles=(ADMIN_ROLE,))
    await fake.wait_for_messages(1)
    for i in range(4):
        await say(fake, "61", user("21", "x"), f"x says line {i}")
    await eventually(lambda: learned(core), lambda texts: texts == [f"x says line {i}" for i in range(4)])
    for name, author, options in (
        ("chance", BOSS, {"percent": 150.0}),
        ("listen", OPERATOR, {"channel": "50", "state": "on"}),  # a DM
        ("forget", ANN, {"user": user("21", "x")}),
    ):
        [reply] = await followups(
            fake, await fake.slash(name, author, (ADMIN_ROLE,) if author is BOSS else (), **options), 1
        )
        assert (
            reply["ephemeral"]
            and reply["content"]
            == {
                "chance": "Usage: /chance <percent>, a number from 0 to 100.",
                "listen": "I listen in server channels, not in direct messages.",
                "forget": "Only admins can make me forget someone else.",
            }[name]
        )
    await say(fake, "60", BOSS, "/chance abc", roles=(ADMIN_ROLE,))
    await say(fake, "60", ANN, "/forget <@21>")
    typed = [m["content"] for m in await fake.wait_for_messages(3)]
    assert typed[1:] == [
        "Usage: /chance <percent>, a number from 0 to 100.",
        "Only admins can make me forget someone else.",
    ]
    assert await channel_state(core, "60") == ChannelState()
    assert await learned(core) == [f"x says line {i}" for i in range(4)]
    [done] = await followups(fake, await fake.slash("forget", BOSS, (ADMIN_ROLE,), user=user("21", "x")), 1)
    assert done["content"].startswith("Done: for this community I deleted") and done["content"].endswith(
        "of <@21>, and I will not learn from them here unless they send /optin."
    )
    assert await learned(core, status=None) == []


async def test_a_reply_is_learned_after_the_message_it_answers(discord_bot, core):
    fake = discord_bot
    await say(fake, "60", BOSS, "/listen on", roles=(ADMIN_ROLE,))
    await fake.wait_for_messages(1)
    asked = await say(fake, "60", ANN, "who feeds the harbour cats?")
    await say(fake, "60", BOSS, "the tide comes in at six")  # the next message, by someone else: an answer
    reply = fake.message(str(next(IDS)), "60", user("9", "cook"), "the baker feeds the harbour cats", GUILD)
    reply |= {
        "type": 19,
        "referenced_message": asked,
        "message_reference": {"message_id": asked["id"], "channel_id": "60", "guild_id": GUILD},
    }
    await fake.dispatch("MESSAGE_CREATE", reply)

    async def pairs() -> list[tuple[str | None, str]]:
        engine = await core.communities.engine_named(f"discord:{GUILD}")
        return sorted((m.pair for m in await engine.learning.messages(status=Status.LEARNED)), key=str)

    expected = sorted(
        [
            (None, asked["content"]),
            (asked["content"], "the tide comes in at six"),
            (asked["content"], reply["content"]),
        ],
        key=str,
    )
    await eventually(pairs, lambda found: found == expected, timeout=SETTINGS.listen_seconds + 3)
