"""One bot installed into many workspaces: the real slack-bolt OAuth flow over loopback (the install
page, Slack's redirect with a code and a state), and each workspace answered with its own bot token."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from adapters.slack import serve
from adapters.slack.oauth import SCOPES
from adapters.slack.tests.fake_slack import (
    APP_TOKEN,
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeSlack,
    command_body,
    event_body,
    fresh_ts,
    wrapped,
)
from adapters.slack.tests.harness import SECRET, listening, post, served
from bot.core import BotCore
from bot.errors import BotError
from dbslm.engine import DBSLMEngine
from tests.helpers import SETTINGS, eventually, execute, table_rows

COOKIE = "slack-app-oauth-state"  # bolt's cookie that ties a state to the browser that asked for it
OAUTH = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": SECRET}


@asynccontextmanager
async def many_workspaces(db: str, port: int, **slack: str) -> AsyncIterator[tuple[FakeSlack, str]]:
    """The fake Slack and the bot's URL: the bot installed through OAuth, its base model trained on
    the starter dialogs in the SQLite file ``db``, in HTTP mode (Socket Mode with ``slack``'s
    SLACK_APP_TOKEN)."""

    async def accepting(api: FakeSlack) -> None:
        await listening(port)

    async with served(db, SETTINGS, {**OAUTH, "BOT_SLACK_PORT": str(port), **slack}, accepting) as (api, _):
        yield api, f"http://127.0.0.1:{port}"


@pytest.fixture
async def bot(tmp_path, bot_port, capsys):
    """The fake Slack, the bot's URL in HTTP mode for many workspaces, and its database file."""
    db = str(tmp_path / "many.sqlite3")
    async with many_workspaces(db, bot_port) as (api, url):
        yield api, url, db
    shown = "".join(capsys.readouterr())
    assert "Traceback" not in shown and not any(token in shown for token in api.tokens)


async def get(url: str, **fields: str) -> tuple[int, str, str]:
    """GET ``url`` as a browser that holds no cookie but ``fields``' ``cookie``; its status, page
    and the state cookie it set ('' for none)."""
    cookie = fields.pop("cookie", None)
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(url, params=fields, headers=headers, allow_redirects=False) as response:
            set_cookie = response.headers.get("Set-Cookie", "")
            state = set_cookie.split(";")[0].removeprefix(f"{COOKIE}=") if set_cookie.startswith(COOKIE) else ""
            return response.status, await response.text(), state


async def install_link(url: str) -> tuple[dict[str, list[str]], str]:
    """The install page's "Add to Slack" link (its query) and the state cookie it set."""
    status, page, cookie = await get(url + "/slack/install")
    assert status == 200
    link = html.unescape(re.search(r'<a href="([^"]+)"', page).group(1))
    assert link.startswith("https://slack.com/oauth/v2/authorize?")
    return parse_qs(urlsplit(link).query), cookie


async def install(api: FakeSlack, url: str, team: str) -> tuple[int, str]:
    """Install the app into ``team`` as its admin would: the install page, then Slack's redirect back."""
    query, cookie = await install_link(url)
    status, page, _ = await get(
        url + "/slack/oauth_redirect", code=api.grant(team), state=query["state"][0], cookie=cookie
    )
    return status, page


def token_of(api: FakeSlack, team: str) -> str:
    """The bot token the fake gave ``team``'s installation (the last one)."""
    return [token for token, owner in api.tokens.items() if owner == team and token != BOT_TOKEN][-1]


async def test_the_install_page_links_to_slack_with_the_scopes_and_a_fresh_state(bot):
    _, url, db = bot
    query, cookie = await install_link(url)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == [",".join(SCOPES)]
    assert query["state"] == [cookie] and table_rows(db, "SELECT state FROM slack_oauth_states") == [(cookie,)]
    again, _ = await install_link(url)
    assert again["state"] != query["state"]


async def test_installing_keeps_the_workspace_and_each_state_serves_once(bot):
    api, url, db = bot
    query, cookie = await install_link(url)
    state = query["state"][0]
    status, page, _ = await get(url + "/slack/oauth_redirect", code=api.grant("T2"), state=state, cookie=cookie)
    assert status == 200 and "Thank you!" in page and token_of(api, "T2") not in page
    assert json.loads(table_rows(db, "SELECT data FROM slack_bots WHERE team_id = ?", ("T2",))[0][0])["bot_token"] == (
        token_of(api, "T2")
    )
    refused = []
    for code, given, held in (
        (api.grant("T1"), state, cookie),  # the same state again
        (api.grant("T1"), "never-issued", "never-issued"),
        (api.grant("T1"), state, "another-browser's"),
    ):
        refused.append(await get(url + "/slack/oauth_redirect", code=code, state=given, cookie=held))
    query, cookie = await install_link(url)
    execute(db, "UPDATE slack_oauth_states SET expires_at = ?", (1,))  # the installer took too long
    refused.append(
        await get(url + "/slack/oauth_redirect", code=api.grant("T1"), state=query["state"][0], cookie=cookie)
    )
    query, cookie = await install_link(url)
    refused.append(
        await get(url + "/slack/oauth_redirect", code="not-from-slack", state=query["state"][0], cookie=cookie)
    )
    reasons = [re.search(r"\(reason: (\w+):", page).group(1) for _, page, _ in refused]
    assert reasons == ["invalid_state", "invalid_state", "invalid_browser", "invalid_state", "invalid_code"]
    assert [status for status, _, _ in refused] == [401, 401, 400, 401, 401]
    assert all("Something Went Wrong" in page and 'from <a href="/slack/install">' in page for _, page, _ in refused)
    assert "The state parameter is no longer valid." in refused[0][1]
    assert table_rows(db, "SELECT team_id FROM slack_bots") == [("T2",)]


async def test_each_workspace_is_answered_with_its_own_token(bot):
    api, url, _ = bot
    for team in ("T1", "T2"):
        assert (await install(api, url, team))[0] == 200
    assert await post(url, json.dumps(event_body("app_mention", "<@UBOT> Hello", team="T2")), "application/json") == 200
    assert await post(url, json.dumps(event_body("app_mention", "<@UBOT> Hello", team="T1")), "application/json") == 200
    form = "&".join(f"{k}={v}" for k, v in command_body("/stats", "", team="T2").items())
    assert await post(url, form, "application/x-www-form-urlencoded") == 200
    posted = await api.posted.wait_for(3)
    assert sorted((p["method"], api.tokens[p["token"]]) for p in posted) == [
        ("chat.postMessage", "T1"),
        ("chat.postMessage", "T2"),
        ("chat.postMessage", "T2"),
    ]
    assert {p["token"] for p in posted} == {token_of(api, "T1"), token_of(api, "T2")}
    stats = next(p for p in posted if p["text"].startswith("Model"))
    assert stats["text"].startswith("Model 'slack:T2'") and stats["token"] == token_of(api, "T2")


async def test_unknown_and_uninstalled_workspaces_get_no_answer(bot, caplog):
    api, url, db = bot
    assert (await install(api, url, "T2"))[0] == 200
    assert await post(url, json.dumps(event_body("app_mention", "<@UBOT> Hello", team="T3")), "application/json") == 200
    ts = fresh_ts()
    uninstalled = wrapped({"type": "app_uninstalled", "event_ts": ts}, "T2")
    assert await post(url, json.dumps(uninstalled), "application/json") == 200

    async def bots() -> list[tuple]:
        return table_rows(db, "SELECT COUNT(*) FROM slack_bots")

    await eventually(bots, lambda rows: rows == [(0,)])  # bolt runs the uninstall after its ack
    assert await post(url, json.dumps(event_body("app_mention", "<@UBOT> Hello", team="T2")), "application/json") == 200
    assert await post(url, json.dumps(event_body("app_mention", "<@UBOT> Hi", team="T9")), "application/json") == 200
    await asyncio.sleep(0.5)  # an answer would have come by now
    assert api.posted == [] and table_rows(db, "SELECT COUNT(*) FROM slack_bots") == [(0,)]
    assert "Traceback" not in caplog.text


async def test_in_socket_mode_the_installed_workspaces_are_answered_over_the_websocket(tmp_path, bot_port):
    async with many_workspaces(str(tmp_path / "socket.sqlite3"), bot_port, SLACK_APP_TOKEN=APP_TOKEN) as (
        api,
        url,
    ):
        await asyncio.wait_for(api.connected.wait(), 5)
        assert (await install(api, url, "T2"))[0] == 200
        await api.push("events_api", event_body("app_mention", "<@UBOT> Hello", channel="C1", team="T1"))
        await api.push("events_api", event_body("app_mention", "<@UBOT> Hello", channel="C2", team="T2"))
        await api.acks.wait_for(2)
        posted = await api.posted.wait_for(1)
        await asyncio.sleep(0.3)  # T1, never installed here, would have been answered by now
        assert [(p["channel"], p["token"]) for p in posted] == [("C2", token_of(api, "T2"))]


@pytest.mark.parametrize(
    "env, named",
    [
        ({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-s3cr3t"}, "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and"),
        ({"SLACK_CLIENT_ID": CLIENT_ID}, "needs SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET as well"),
        ({"SLACK_CLIENT_SECRET": "s3cr3t", "SLACK_SIGNING_SECRET": "s3cr3t"}, "needs SLACK_CLIENT_ID as well"),
        ({**OAUTH, "SLACK_SIGNING_SECRET": ""}, "installing into many workspaces needs SLACK_SIGNING_SECRET as well"),
    ],
)
async def test_missing_or_contradictory_oauth_settings_are_named(tmp_path, env, named):
    engine = await DBSLMEngine.open(str(tmp_path / "refused.sqlite3"))
    try:
        with pytest.raises(BotError) as refused:
            await asyncio.wait_for(serve(BotCore(engine, SETTINGS), asyncio.Event(), env), 5)
    finally:
        await engine.close()
    assert named in str(refused.value) and "s3cr3t" not in str(refused.value)
