"""The real discord.py client, unchanged, against a fake Discord on loopback."""

from __future__ import annotations

import asyncio

import discord
import pytest
import yarl
from aiohttp import web

from adapters.discord import DiscordAdapter
from bot.core import BotCore
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.discord.fake_discord import BOT, FakeDiscord, user
from tests.test_engine import split_pairs

SETTINGS = BotSettings(admins=frozenset(), user_rate=50, channel_rate=50, rate_window=60, max_upload_mb=1)


@pytest.fixture
async def discord_bot(tmp_path, monkeypatch):
    engine = await DBSLMEngine.open(str(tmp_path / "discord.sqlite3"))
    await engine.train_dialog(split_pairs()[0])
    fake = FakeDiscord()
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{port}/"))
    adapter = DiscordAdapter(BotCore(engine, SETTINGS))
    task = asyncio.create_task(adapter.client.start("fake-token"))
    await asyncio.wait_for(fake.ready.wait(), 10)
    await asyncio.wait_for(adapter.client.wait_until_ready(), 10)
    yield fake
    await adapter.client.close()
    task.cancel()
    await runner.cleanup()
    await engine.close()


async def test_dms_are_answered_and_own_messages_are_not(discord_bot):
    fake = discord_bot
    await fake.dispatch("MESSAGE_CREATE", fake.message("1", "50", user("7", "ann"), "Hello"))
    sent = await fake.wait_for_messages(1)
    assert sent[0]["channel"] == "50" and sent[0]["content"]
    await fake.dispatch("MESSAGE_CREATE", fake.message("2", "50", BOT, "I said this"))
    await fake.dispatch("MESSAGE_CREATE", fake.message("3", "50", user("8", "other", bot=True), "a bot"))
    await fake.dispatch("MESSAGE_CREATE", fake.message("4", "50", user("7", "ann"), "What is AI?"))
    sent = await fake.wait_for_messages(2)
    await asyncio.sleep(0.3)
    assert len(fake.sent) == 2


async def test_correct_changes_the_next_answer_in_that_channel_only(discord_bot):
    fake = discord_bot
    ann = user("7", "ann")
    await fake.dispatch("MESSAGE_CREATE", fake.message("1", "50", ann, "What is AI?"))
    await fake.wait_for_messages(1)
    await fake.dispatch("MESSAGE_CREATE", fake.message("2", "50", ann, "/correct AI is a talking database."))
    assert "talking database" in (await fake.wait_for_messages(2))[1]["content"]
    await fake.dispatch("MESSAGE_CREATE", fake.message("3", "50", ann, "What is AI?"))
    assert (await fake.wait_for_messages(3))[2]["content"] == "AI is a talking database."
    await fake.dispatch("MESSAGE_CREATE", fake.message("4", "51", ann, "What is AI?"))
    assert (await fake.wait_for_messages(4))[3]["content"] != "AI is a talking database."


async def test_python_m_bot_names_a_refused_discord_token_without_printing_it(tmp_path):
    import os
    import sys

    refusing = web.Application()

    async def unauthorized(request: web.Request) -> web.Response:
        return web.Response(status=401, body=b'{"message": "401: Unauthorized", "code": 0}',
                            headers={"Content-Type": "application/json"})

    refusing.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(refusing)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    script = (f"import discord, runpy; discord.http.Route.BASE = 'http://127.0.0.1:{port}/api/v10'; "
              "runpy.run_module('bot', run_name='__main__')")
    env = {**os.environ, "DBSLM_SQLITE_PATH": str(tmp_path / "b.sqlite3"), "DISCORD_TOKEN": "t0ken-s3cr3t"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env,
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    await runner.cleanup()
    text = (out + err).decode()
    assert proc.returncode == 1 and "DISCORD_TOKEN was refused by Discord" in text, text
    assert "s3cr3t" not in text and "Traceback" not in text
