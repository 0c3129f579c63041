"""Sharding: two bot processes (``python -m app``), shards 0 and 1 of 2, on one MariaDB database
against one fake Discord; the shard settings and the invite link."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from adapters.discord import serve
from adapters.discord.tests.fake_discord import ADMIN_ROLE, ADMIN_ROLE_B, BOT, GUILD, GUILD_B, FakeDiscord, user
from adapters.discord.tests.harness import BOSS, ask, followups
from bot.errors import BotError
from dbslm.engine import DBSLMEngine
from dbslm.starter import starter_pairs
from dbslm.store.mariadb import parse_url
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import resolve_model, train
from tests.helpers import assert_same_model, eventually, ngrams_by_text, owners_of, run_bot_process, table_rows

X, Y, Z = user("21", "x"), user("22", "y"), user("23", "z")
NOT_HELD = ("forgetting", "unpairing")  # statuses of learned rows the model no longer holds
LEARNED = (  # the texts each model holds now (not those waiting, nor those being forgotten)
    "SELECT m.name, l.text FROM learned l JOIN models m ON m.id = l.model_id JOIN queues q ON q.model_id = m.id "
    "WHERE l.seq <= q.learned AND l.status NOT IN (?, ?)"
)


@asynccontextmanager
async def bot_processes(fake: FakeDiscord, db: str, tmp_path: Path, count: int) -> AsyncIterator[list[Path]]:
    """``count`` bot processes started at once on the MariaDB database ``db``, each running its
    shard of ``count``; the files of their output. SIGTERM stops them at the end; each must exit 0."""
    target = parse_url(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBSLM_", "BOT_", "DISCORD_", "SLACK_"))}
    env |= {
        "DBSLM_BACKEND": "mariadb",
        "DBSLM_MARIADB_HOST": target.host,
        "DBSLM_MARIADB_PORT": str(target.port),
        "DBSLM_MARIADB_USER": target.user,
        "DBSLM_MARIADB_PASSWORD": target.password or "",
        "DBSLM_MARIADB_DATABASE": target.database,
        "DISCORD_TOKEN": "fake-token",
        "DISCORD_API_URL": fake.api_url,
        "BOT_USER_RATE": "1000",
        "BOT_CHANNEL_RATE": "1000",
        "BOT_LISTEN_BATCH": "4",
        "BOT_LISTEN_SECONDS": "0.1",
        "BOT_SHARD_COUNT": str(count),
    }
    outputs = [tmp_path / f"shard{shard}.log" for shard in range(count)]
    processes = []
    for shard, output in enumerate(outputs):
        with output.open("wb") as log:
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "app",
                    env=env | {"BOT_SHARD_IDS": str(shard)},
                    cwd=tmp_path,  # no .env there
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            )
    try:
        yield outputs
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(process.wait(), 60) for process in processes]
    for code, output in zip(codes, outputs):
        text = output.read_text()
        assert code == 0 and "Traceback" not in text, text


async def until_learned(db: str, expected: list[tuple[str, str]]) -> None:
    """Wait until the models hold exactly ``expected``, (model, text) pairs, and nothing else."""

    async def learned() -> list[tuple[str, str]]:
        return sorted(await asyncio.to_thread(table_rows, db, LEARNED, NOT_HELD))

    await eventually(learned, lambda found: found == sorted(expected), 30)


def server(guild: str, *texts: str) -> list[tuple[str, str]]:
    """``texts`` as learned by the model of ``guild``."""
    return [(f"discord:{guild}", text) for text in texts]


async def say(fake: FakeDiscord, number: int, channel: str, author: dict, text: str, guild: str) -> None:
    await fake.dispatch("MESSAGE_CREATE", fake.message(str(7000 + number), channel, author, text, guild))


async def test_two_processes_share_the_servers_and_answer_each_message_once(tmp_path, mariadb_url):
    fake = FakeDiscord(shards=2)
    await fake.start()
    try:
        async with bot_processes(fake, mariadb_url, tmp_path, 2) as outputs:
            await asyncio.wait_for(fake.ready.wait(), 120)
            assert sorted(fake.identified) == [[0, 2], [1, 2]]
            assert fake.shard_of(GUILD) == 0 and fake.shard_of(GUILD_B) == 1
            assert await ask(fake, "60", "Hello", GUILD) and await ask(fake, "80", "Hello", GUILD_B)
            await fake.dispatch("MESSAGE_CREATE", fake.message("3", "50", X, "Hello"))  # a DM: shard 0's
            await fake.wait_for_messages(3)
            tokens = [
                await fake.slash("listen", BOSS, (ADMIN_ROLE,), channel="60", state="on"),
                await fake.slash("listen", BOSS, (ADMIN_ROLE_B,), channel="80", state="on"),
            ]
            for token in tokens:
                assert (await followups(fake, token, 1))[0]["content"].startswith("I am listening")
            for i in range(4):
                await say(fake, i, "60", X, f"the quokka sings {i} at dusk", GUILD)
                await say(fake, 10 + i, "80", X, f"the wombat digs {i} at noon", GUILD_B)
            await say(fake, 5, "60", Z, "a zebu grazes on the hill", GUILD)
            await say(fake, 15, "80", Z, "a zebu grazes in the bog", GUILD_B)
            quokkas = server(GUILD, *(f"the quokka sings {i} at dusk" for i in range(4)))
            wombats = server(GUILD_B, *(f"the wombat digs {i} at noon" for i in range(4)))
            zebus = server(GUILD, "a zebu grazes on the hill") + server(GUILD_B, "a zebu grazes in the bog")
            await until_learned(mariadb_url, quokkas + wombats + zebus)
            assert owners_of(mariadb_url, "quokka") == {f"discord:{GUILD}"}
            assert owners_of(mariadb_url, "wombat") == {f"discord:{GUILD_B}"}
            tokens.append(await fake.slash("forget", BOSS, (ADMIN_ROLE_B,), channel="80", user=X))
            assert (await followups(fake, tokens[-1], 1))[0]["content"].startswith("Done: for this community")
            await say(fake, 20, "80", Y, "the marmot naps by the weir", GUILD_B)  # shard 1 reads B's opt-outs
            naps = server(GUILD_B, "the marmot naps by the weir")
            await until_learned(mariadb_url, quokkas + zebus + naps)
            # Z forgets themself in server A, on shard 0: unlearned in B too, and opted out there
            tokens += [
                await fake.slash("forget", Z, channel="60"),
                await fake.slash("forget", Z, channel="60", confirm=True),
            ]
            assert (await followups(fake, tokens[-1], 1))[0]["content"].startswith("Done: I deleted")
            await until_learned(mariadb_url, quokkas + naps)
            await say(fake, 21, "80", Z, "a zebu sings in the bog", GUILD_B)  # shard 1 must not learn it
            await say(fake, 22, "80", Y, "the marmot wakes at dawn", GUILD_B)
            wakes = server(GUILD_B, "the marmot wakes at dawn")
            await until_learned(mariadb_url, quokkas + naps + wakes)
            await asyncio.sleep(0.5)  # time for a second answer, if one were coming
            assert sorted(m["channel"] for m in fake.sent) == ["50", "60", "80"]
            assert sorted(f["token"] for f in fake.followups) == sorted(tokens)
            deferred = [c["interaction"] for c in fake.callbacks if "interaction" in c]
            assert len(deferred) == len(set(deferred)) == len(tokens)
    finally:
        await fake.close()
    assert owners_of(mariadb_url, "wombat") == owners_of(mariadb_url, "zebu") == set()
    assert table_rows(mariadb_url, "SELECT COUNT(*) FROM pairs WHERE source = ?", ("starter",)) == [
        (len(starter_pairs()),)
    ]
    engine = await DBSLMEngine.open(mariadb_url)
    try:
        alone = await resolve_model(engine.store, "marmot-alone", None, None, reset=False)
        tokenize = get_tokenizer("regex").tokenize
        await train(engine.store, alone, dialog=[([], tokenize(text)) for _, text in naps + wakes])
        assert_same_model(
            await ngrams_by_text(engine.store, f"discord:{GUILD_B}"), await ngrams_by_text(engine.store, "marmot-alone")
        )
    finally:
        await engine.close()
    for output in outputs:
        [link] = re.findall(r"https://discord\.com/oauth2/authorize\S+", output.read_text())
        assert_invite(link)


def assert_invite(link: str) -> None:
    """The link invites the bot with its slash commands and exactly the permissions it uses."""
    query = parse_qs(urlsplit(link).query)
    expected = discord.Permissions(
        view_channel=True, send_messages=True, send_messages_in_threads=True, read_message_history=True
    )
    assert query["client_id"] == [BOT["id"]]
    assert query["scope"] == ["bot applications.commands"]
    assert query["permissions"] == [str(expected.value)]


@pytest.mark.parametrize(
    ("count", "ids", "error"),
    [
        ("", "0", "BOT_SHARD_IDS needs BOT_SHARD_COUNT, the number of shards of all processes"),
        ("two", "", "BOT_SHARD_COUNT must be a whole number of at least 1, not 'two'"),
        ("0", "", "BOT_SHARD_COUNT must be a whole number of at least 1, not '0'"),
        ("2", "0,2", "BOT_SHARD_IDS must be distinct shard numbers from 0 to 1 separated by commas, not '0,2'"),
        ("2", "1,1", "BOT_SHARD_IDS must be distinct shard numbers from 0 to 1 separated by commas, not '1,1'"),
        ("3", "0;1", "BOT_SHARD_IDS must be distinct shard numbers from 0 to 2 separated by commas, not '0;1'"),
    ],
)
async def test_bad_shard_settings_are_one_line_naming_the_variable(fake_discord, core, count, ids, error):
    env = {"DISCORD_TOKEN": "fake-token", "DISCORD_API_URL": fake_discord.api_url}
    env |= {"BOT_SHARD_COUNT": count, "BOT_SHARD_IDS": ids}
    with pytest.raises(BotError) as refused:
        await serve(core, asyncio.Event(), env)
    assert str(refused.value) == error and not fake_discord.identified


async def test_serve_logs_the_invite_link_and_runs_the_shards_discord_recommends(fake_discord, core, caplog):
    caplog.set_level(logging.INFO, logger="adapters.discord")
    fake_discord.shards = 2
    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve(core, stop, {"DISCORD_TOKEN": "fake-token", "DISCORD_API_URL": fake_discord.api_url})
    )
    await asyncio.wait_for(fake_discord.ready.wait(), 30)
    assert sorted(fake_discord.identified) == [[0, 2], [1, 2]]
    for channel, guild in (("60", GUILD), ("80", GUILD_B)):
        assert await ask(fake_discord, channel, "Hello", guild)
    stop.set()
    await asyncio.wait_for(serving, 10)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("adapters.discord"))
    [link] = re.findall(r"https://discord\.com/oauth2/authorize\S+", logged)
    assert_invite(link)


async def test_the_bot_process_refuses_bad_shard_settings_before_it_opens_its_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env |= {"DISCORD_TOKEN": "fake-token", "BOT_SHARD_IDS": "1", "DBSLM_SQLITE_PATH": str(tmp_path / "never.sqlite3")}
    code, said = await run_bot_process(env)
    assert (code, said) == (
        1,
        "dbslm-bot: error: BOT_SHARD_IDS needs BOT_SHARD_COUNT, the number of shards of all processes\n",
    )
    assert not (tmp_path / "never.sqlite3").exists()
