"""The bot core through the console adapter and plain events: routing, commands, limits, restarts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.console import ConsoleAdapter
from bot.core import NOTHING_SAID, SLOW_DOWN, BotCore, split_message
from bot.events import Attachment, Message
from bot.registry import BY_NAME, COMMANDS
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from tests.helpers import console_bot_process, table_rows

SETTINGS = BotSettings(
    admins=frozenset({"test:boss"}),
    user_rate=3,
    channel_rate=100,
    rate_window=60,
    max_upload_mb=1,
    model_scope="global",
)  # one model: communities have their own tests


@pytest.fixture
def core(dialog_engine):
    return BotCore(dialog_engine, SETTINGS)


async def ask(core: BotCore, text: str, channel: str = "c1", user: str = "ann", **flags) -> list[str]:
    out: list[str] = []

    async def send(reply: str, *, private: bool = False) -> None:
        out.append(reply)

    flags.setdefault("is_dm", True)
    await core.handle(Message("test", "w1", channel, user, text, **flags), send)
    return out


async def test_every_declared_command_has_a_handler_and_a_line_of_help(core):
    assert set(core.commands.handlers) == set(BY_NAME)
    [help_text] = await ask(core, "/help")
    assert all(f"{c.slash}: {c.help}" in help_text for c in COMMANDS)


async def test_what_gets_answered(core):
    assert await ask(core, "Hello")
    assert await ask(core, "Hello", is_dm=False, mentions_bot=True)
    assert not await ask(core, "Hello", is_dm=False)
    assert not await ask(core, "Hello", from_bot=True)


async def test_a_message_without_words_gets_a_hint_not_a_made_up_reply(core):
    assert await ask(core, "   ") == [NOTHING_SAID]
    assert await ask(core, "", is_dm=False, mentions_bot=True) == [NOTHING_SAID]
    await core.communities.update_channel(core.engine, Message("test", "w1", "c9", "ann", ""), chance=1.0)
    assert not await ask(core, "", channel="c9", is_dm=False)  # answered by chance: nothing to answer
    assert table_rows(str(core.engine.store.db.description), "SELECT COUNT(*) FROM messages") == [(0,)]


async def test_correct_changes_the_next_answer_in_that_channel_only(core):
    await ask(core, "What is AI?", channel="left", user="boss")
    ack = await ask(core, "/correct AI means a database that talks.", channel="left", user="boss")
    assert ack and "database that talks" in ack[0]
    assert await ask(core, "What is AI?", channel="left", user="boss") == ["AI means a database that talks."]
    assert "database that talks" not in (await ask(core, "What is AI?", channel="right", user="boss"))[0]


async def test_a_copied_reply_pings_nobody(core):
    await ask(core, "Who is around?", user="boss")
    ack = await ask(core, "/correct <!channel> and <@U123> and @everyone: come `here`", user="boss")
    assert ack and "<!channel>" not in ack[0] and "<@U123>" not in ack[0] and "@everyone" not in ack[0]
    reply = (await ask(core, "Who is around?", user="boss"))[0]
    assert reply == "and  and : come `here`"  # the correction, as written, without its mentions


async def test_train_needs_an_admin_and_reports_bad_lines(core):
    upload = (Attachment("facts.ndjson", b'{"prompt": "favourite colour?", "response": "Teal, always."}\n'),)
    refused = await ask(core, "/train", user="ann", attachments=upload)
    assert refused == ["Only admins can use /train."]
    started = await ask(core, "/train", user="boss", attachments=upload)
    assert "background" in started[0]
    await core.commands.wait_for_training()
    assert (await ask(core, "favourite colour?", user="boss"))[0] == "Teal, always."
    out: list[str] = []

    async def send(reply: str, *, private: bool = False) -> None:
        out.append(reply)

    bad = (Attachment("bad.ndjson", b'{"prompt": "a", "response": "b"}\n{oops\n'),)
    await core.handle(Message("test", "w1", "c1", "boss", "/train", is_dm=True, attachments=bad), send)
    await core.commands.wait_for_training()
    assert out[-1].startswith("Training failed, nothing changed: bad.ndjson:2: malformed JSON")
    assert "can't train" in (await ask(core, "/train", user="boss", attachments=(Attachment("x.exe", b"MZ"),)))[0]


async def test_flush_needs_an_admin_and_a_mariadb(core, mariadb_url):
    assert await ask(core, "/flush", user="ann") == ["Only admins can use /flush."]
    assert "No MariaDB is configured" in (await ask(core, "/flush", user="boss"))[0]
    core.commands.settings = replace(SETTINGS, cold_url=mariadb_url)
    assert "Usage" in (await ask(core, "/flush lots", user="boss"))[0]
    engine = core.engine
    before = [
        (await engine.respond(await engine.start_conversation("u"), "What is AI?", seed=s)).text for s in range(5)
    ]
    moved = (await ask(core, "/flush 40", user="boss"))[0]
    assert moved.startswith("Moved 40 cold contexts (") and "password" not in moved
    assert len(table_rows(mariadb_url, "SELECT DISTINCT n, ctx FROM cold_ngrams")) == 40
    assert before == [
        (await engine.respond(await engine.start_conversation("u"), "What is AI?", seed=s)).text for s in range(5)
    ]


async def test_rate_limit_and_forget_confirmation(core):
    replies = [await ask(core, f"hello {i}", user="fast") for i in range(4)]
    assert replies[-1] == [SLOW_DOWN] and all(r != [SLOW_DOWN] for r in replies[:3])
    assert "confirm" in (await ask(core, "/forget", user="boss"))[0]
    assert (await ask(core, "/forget confirm", user="boss"))[0].startswith("Done: I deleted")


async def test_channels_are_conversations_that_survive_a_restart(core, tmp_path):
    await ask(core, "Hello from the left", channel="left")
    await ask(core, "Hello from the right", channel="right")
    left = await core.conversation_for(Message("test", "w1", "left", "ann", ""))
    assert left != await core.conversation_for(Message("test", "w1", "right", "ann", ""))
    restarted = BotCore(await DBSLMEngine.open(str(tmp_path / "dialogs.sqlite3")), SETTINGS)
    assert await restarted.conversation_for(Message("test", "w1", "left", "ann", "")) == left
    await restarted.engine.close()


async def test_console_adapter_script(core, tmp_path):
    lines = []
    adapter = ConsoleAdapter(core, write=lines.append)
    (tmp_path / "learn.txt").write_text("the zanzibar archipelago has spice farms\n")

    async def script():
        for line in ("Hello", f"/train {tmp_path / 'learn.txt'}", "/stats"):
            yield line

    await adapter.run(script())
    assert lines[0].startswith("bot> ") and any("Trained on learn.txt" in line for line in lines)


def test_split_message():
    text = "word " * 1000
    parts = split_message(text, 2000)
    assert all(len(p) <= 2000 for p in parts) and " ".join(parts).split() == text.split()
    assert split_message("x" * 4500, 2000) == ["x" * 2000, "x" * 2000, "x" * 500]


def test_the_bot_process_answers_and_stops_cleanly_on_sigterm(tmp_path):
    import os
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))}
    env["DBSLM_SQLITE_PATH"] = str(tmp_path / "run.sqlite3")
    proc = console_bot_process(env)
    proc.stdin.write("Hello\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("bot> ")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    err = proc.stderr.read()
    assert "console" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "run.sqlite3-wal")  # the database was closed


def test_the_bot_process_refuses_a_bad_setting_before_it_starts(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env.update(DBSLM_SQLITE_PATH=str(tmp_path / "never.sqlite3"), BOT_MODEL_SCOPE="galaxy")
    run = subprocess.run(
        [sys.executable, "-m", "app"], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == 1 and run.stderr.strip().splitlines() == [
        "dbslm-bot: error: BOT_MODEL_SCOPE must be one of server, global, channel, not 'galaxy'"
    ]
    assert not (tmp_path / "never.sqlite3").exists()


async def test_admins_review_corrections_in_chat(dialog_engine, tmp_path):
    core = BotCore(dialog_engine, replace(SETTINGS, user_rate=100))
    await ask(core, "What is AI?", user="ann")
    await ask(core, "/correct AI is a talking database.", user="ann")
    await ask(core, "Who are you?", channel="c2", user="carol")
    await ask(core, "/correct I am a heron.", channel="c2", user="carol")
    assert await ask(core, "/corrections", user="ann") == ["Only admins can use /corrections."]
    listed = (await ask(core, "/corrections", user="boss"))[0]
    first, second = (c.id for c in await dialog_engine.pending_corrections())
    assert f"#{first} from test:ann: \u201cWhat is AI?\u201d \u2192 \u201cAI is a talking database.\u201d" in listed
    assert f"#{second} from test:carol" in listed
    assert await ask(core, f"/approve {first}", user="ann") == ["Only admins can use /approve."]
    assert "Approved correction" in (await ask(core, f"/approve #{first}", user="boss"))[0]
    assert await ask(core, "What is AI?", channel="c3", user="dave") == ["AI is a talking database."]
    assert (await ask(core, f"/approve {first}", user="boss"))[0].startswith("There is no correction")
    assert "Rejected correction" in (await ask(core, f"/reject {second}", user="boss"))[0]
    assert await ask(core, "Who are you?", channel="c2", user="carol") != ["I am a heron."]
    assert await ask(core, "/corrections", user="boss") == ["No corrections are waiting for approval here."]
    assert (await ask(core, "/approve soon", user="boss"))[0].startswith("Name the correction by its number")
    assert (await ask(core, "/reject 99999", user="boss"))[0].startswith("There is no correction #99999")
    path = str(tmp_path / "dialogs.sqlite3")
    assert table_rows(path, "SELECT prompt, response, source, user_id FROM pairs WHERE source = 'correction'") == [
        ("What is AI?", "AI is a talking database.", "correction", "test:ann")
    ]
    assert table_rows(path, "SELECT scope FROM corrections ORDER BY id") == [("global",), ("rejected",)]
