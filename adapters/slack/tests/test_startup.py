"""The bot's process on Slack (``python -m app``) against the fake Slack: it says where it listens and
nothing else, no warning of the Slack libraries, for one workspace and for many."""

from __future__ import annotations

import asyncio
import os
import signal

from adapters.slack.tests.fake_slack import APP_TOKEN, BOT_TOKEN, CLIENT_ID, CLIENT_SECRET, FakeSlack
from adapters.slack.tests.harness import SECRET
from tests.helpers import bot_process

CONNECTED = "the bot is connected to Slack in Socket Mode (SIGTERM stops it)"
UNSET_OAUTH = {"SLACK_CLIENT_ID": "", "SLACK_CLIENT_SECRET": "", "SLACK_SCOPES": "", "SLACK_REDIRECT_URI": ""}


async def started(env: dict[str, str], last: str) -> tuple[int, list[str]]:
    """Run the bot's process with ``env`` until it prints ``last``, then stop it (SIGTERM): its exit
    code and the lines it printed."""
    proc = await bot_process(env, stderr=asyncio.subprocess.STDOUT)
    lines: list[str] = []
    try:
        while not lines or lines[-1] != last:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, f"the bot stopped early: {lines}"
            lines.append(line.decode().rstrip("\n"))
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode, lines + rest.decode().splitlines()


async def bot_env(tmp_path, api: FakeSlack, **slack: str) -> dict[str, str]:
    """The process's environment: the test's, without any platform's settings, and ``slack``'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    return env | slack | {"DBSLM_SQLITE_PATH": str(tmp_path / "bot.sqlite3"), "SLACK_API_URL": await api.start()}


async def test_one_workspace_starts_without_a_library_warning(tmp_path):
    """slack-bolt reads SLACK_BOT_TOKEN from the environment itself: given a client too, it would
    warn "As you gave `client` as well, `token` will be unused". The empty settings of a copied
    .env.example are unset: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, even empty, would make bolt
    install into many workspaces and drop the bot token."""
    api = FakeSlack()
    try:
        env = await bot_env(tmp_path, api, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, **UNSET_OAUTH)
        code, lines = await started(env, CONNECTED)
    finally:
        await api.close()
    assert (code, lines) == (
        0,
        [f"the bot's database is {tmp_path / 'bot.sqlite3'}", "training the starter model ...", CONNECTED],
    )


async def test_many_workspaces_in_socket_mode_serve_the_install_page(tmp_path, bot_port):
    api = FakeSlack()
    try:
        env = await bot_env(
            tmp_path,
            api,
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_APP_TOKEN=APP_TOKEN,
            BOT_SLACK_PORT=str(bot_port),
            SLACK_BOT_TOKEN="",  # as in .env.example: bolt would warn that it goes unused
        )
        code, lines = await started(env, CONNECTED)
    finally:
        await api.close()
    assert (code, lines) == (
        0,
        [
            f"the bot's database is {tmp_path / 'bot.sqlite3'}",
            "training the starter model ...",
            f"install the bot into a Slack workspace at http://127.0.0.1:{bot_port}/slack/install",
            CONNECTED,
        ],
    )
