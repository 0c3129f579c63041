"""The real discord.py client, unchanged, against a fake Discord on loopback."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from adapters.discord import serve
from adapters.discord.tests.fake_discord import ADMIN_ROLE, BOT, GUILD, user
from bot.errors import BotError
from tests.helpers import run_bot_process


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


async def test_the_bot_process_names_a_refused_discord_token_without_printing_it(tmp_path):
    import os

    refusing = web.Application()

    async def unauthorized(request: web.Request) -> web.Response:
        return web.Response(
            status=401,
            body=b'{"message": "401: Unauthorized", "code": 0}',
            headers={"Content-Type": "application/json"},
        )

    refusing.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(refusing)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    env = {
        **os.environ,
        "DBSLM_SQLITE_PATH": str(tmp_path / "b.sqlite3"),
        "DISCORD_TOKEN": "t0ken-s3cr3t",
        "DISCORD_API_URL": f"http://127.0.0.1:{port}/api/v10",
    }
    code, text = await run_bot_process(env)
    await runner.cleanup()
    assert code == 1 and "DISCORD_TOKEN was refused by Discord" in text, text
    assert "s3cr3t" not in text and "Traceback" not in text


async def test_guild_mentions_are_answered_and_other_guild_messages_are_not(discord_bot):
    fake = discord_bot
    ann = user("7", "ann")
    await fake.dispatch("MESSAGE_CREATE", fake.message("1", "60", ann, "<@1000> Hello", GUILD, [BOT]))
    assert (await fake.wait_for_messages(1))[0]["channel"] == "60"
    await fake.dispatch("MESSAGE_CREATE", fake.message("2", "60", ann, "What is AI?", GUILD))
    await fake.dispatch("MESSAGE_CREATE", fake.message("3", "60", BOT, "<@1000> talking to myself", GUILD, [BOT]))
    await fake.dispatch("MESSAGE_CREATE", fake.message("4", "61", ann, "<@1000> What is AI?", GUILD, [BOT]))
    sent = await fake.wait_for_messages(2)
    await asyncio.sleep(0.3)
    assert len(fake.sent) == 2 and sent[1]["channel"] == "61"


async def test_typed_train_needs_manage_server_from_a_role(discord_bot):
    fake = discord_bot
    command = "/train The zorblax hums at dawn."
    await fake.dispatch("MESSAGE_CREATE", fake.message("1", "60", user("7", "ann"), command, GUILD))
    assert (await fake.wait_for_messages(1))[0]["content"] == "Only admins can use /train."
    await fake.dispatch(
        "MESSAGE_CREATE", fake.message("2", "60", user("9", "boss"), command, GUILD, roles=(ADMIN_ROLE,))
    )
    sent = await fake.wait_for_messages(3)
    assert "background" in sent[1]["content"] and sent[2]["content"].startswith("Trained on message.txt")


async def test_serve_answers_until_stopped_and_names_a_missing_token(fake_discord, core):
    stop = asyncio.Event()
    with pytest.raises(BotError, match="^DISCORD_TOKEN is not set$"):
        await serve(core, stop, {"DISCORD_TOKEN": " "})
    serving = asyncio.create_task(
        serve(core, stop, {"DISCORD_TOKEN": "fake-token", "DISCORD_API_URL": fake_discord.api_url})
    )
    await asyncio.wait_for(fake_discord.ready.wait(), 10)
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.message("1", "50", user("7", "ann"), "Hello"))
    assert (await fake_discord.wait_for_messages(1))[0]["content"]
    stop.set()
    await asyncio.wait_for(serving, 10)
