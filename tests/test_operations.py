"""The bot's operations: /healthz and /metrics on BOT_HTTP_PORT, and its log as JSON lines."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from dataclasses import replace

import aiohttp
from prometheus_client import REGISTRY

from app.operations import operations_served
from bot.core import BotCore
from bot.events import Message
from tests.helpers import SETTINGS, console_bot_process, run_bot_process


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_messages_answers_trainings_and_the_queue(dialog_engine, bot_port):
    core = BotCore(dialog_engine, replace(SETTINGS, listen_batch=100, listen_seconds=60))
    port = bot_port
    before = {
        "messages": sample("dbslm_messages_total", platform="slack"),
        "replies": sample("dbslm_answers_total", kind="reply"),
        "commands": sample("dbslm_answers_total", kind="command"),
        "timed": sample("dbslm_answer_seconds_count", kind="reply"),
        "learned": sample("dbslm_trainings_total", kind="learn"),
    }
    sent: list[str] = []

    async def send(reply: str, *, private: bool = False) -> None:
        sent.append(reply)

    async def say(text: str, n: int, **flags: bool) -> None:
        await core.handle(Message("slack", "T1", "C1", "ann", text, message_id=str(n), **flags), send)

    async with operations_served(core, "127.0.0.1", port), aiohttp.ClientSession() as http:
        await say("/listen on", 1, is_admin=True, mentions_bot=True)
        for n in range(2, 5):
            await say(f"we talk about the weather {n}", n)  # listened, queued: not addressed
        await say("How are you?", 5, mentions_bot=True)
        async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200 and await health.json() == {"status": "ok"}
        async with http.get(f"http://127.0.0.1:{port}/metrics") as scraped:
            text = await scraped.text()
    assert "dbslm_learning_queue_messages 4.0" in text.splitlines()  # the mention is listened to too
    assert sample("dbslm_messages_total", platform="slack") - before["messages"] == 5
    assert sample("dbslm_answers_total", kind="reply") - before["replies"] == 1
    assert sample("dbslm_answers_total", kind="command") - before["commands"] == 1
    assert sample("dbslm_answer_seconds_count", kind="reply") - before["timed"] == 1
    await core.close()  # learns the queued batch
    assert sample("dbslm_trainings_total", kind="learn") - before["learned"] >= 1
    assert len(sent) == 2


async def test_health_says_why_when_the_database_is_gone(dialog_engine, bot_port):
    core = BotCore(dialog_engine, SETTINGS)
    port = bot_port
    async with operations_served(core, "127.0.0.1", port), aiohttp.ClientSession() as http:
        await dialog_engine.store.db.close()
        async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
            body = await health.json()
    assert health.status == 503 and body["status"] == "unavailable" and "database" in body["reason"]


def test_the_bot_process_serves_health_and_logs_json_lines(tmp_path, bot_port):
    port = bot_port
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env.update(DBSLM_SQLITE_PATH=str(tmp_path / "run.sqlite3"), BOT_HTTP_PORT=str(port), BOT_LOG_FORMAT="json")
    proc = console_bot_process(env)
    try:
        proc.stdin.write("Hello\n")
        proc.stdin.flush()
        assert proc.stdout.readline().startswith("bot> ")  # the port is served before the console starts
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as health:
            assert json.load(health) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as metrics:
            assert 'dbslm_answers_total{kind="reply"} 1.0' in metrics.read().decode().splitlines()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    lines = [json.loads(line) for line in proc.stderr.read().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["message"].startswith("the bot is listening on the console") for line in lines)


async def test_bad_operations_settings_are_one_line(tmp_path):
    base = {"DBSLM_SQLITE_PATH": str(tmp_path / "run.sqlite3")}
    code, err = await run_bot_process({**base, "BOT_HTTP_PORT": "http"})
    assert code == 1 and err.strip() == "dbslm-bot: error: BOT_HTTP_PORT must be a number, not 'http'"
    code, err = await run_bot_process({**base, "BOT_LOG_FORMAT": "xml"})
    assert code == 1 and err.strip() == "dbslm-bot: error: BOT_LOG_FORMAT must be one of text, json, not 'xml'"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = await run_bot_process({**base, "BOT_HTTP_PORT": str(port)})
    assert code == 1 and f"cannot serve /healthz and /metrics on 127.0.0.1:{port}" in err and "Traceback" not in err
