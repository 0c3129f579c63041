"""slack_sdk's installation and OAuth state stores on the bot's database, both backends: what the
OAuth flow saves is found again per workspace, deleted on uninstall, and each state is good once."""

from __future__ import annotations

import pytest
from slack_sdk.oauth.installation_store import Installation

from adapters.slack.oauth import DatabaseInstallationStore, DatabaseStateStore
from dbslm.store import open_store
from dbslm.store.schema import SCHEMA_VERSION
from tests.helpers import execute, table_rows

INSTALLATION_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


def installed(team: str | None, user: str, token: str, at: float, enterprise: str | None = None) -> Installation:
    """An installation as bolt's OAuth flow makes it from oauth.v2.access."""
    return Installation(
        app_id="A1",
        enterprise_id=enterprise,
        team_id=team,
        team_name=f"Team {team}",
        bot_token=token,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="chat:write,commands",
        user_id=user,
        installed_at=at,
        is_enterprise_install=team is None,
    )


@pytest.fixture
async def store(db):
    opened = await open_store(db)
    yield db, DatabaseInstallationStore(opened.db), opened.db
    await opened.close()


async def test_each_workspace_finds_its_latest_bot_and_each_installer_theirs(store):
    db, installations, _ = store
    await installations.async_save(installed("T1", "U1", "xoxb-t1-first", 100.0))
    await installations.async_save(installed("T2", "U2", "xoxb-t2", 150.0))
    await installations.async_save(installed("T1", "U3", "xoxb-t1-second", 200.0))
    await installations.async_save(installed(None, "U4", "xoxb-org", 250.0, enterprise="E1"))

    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    assert (bot.bot_token, bot.bot_user_id, bot.bot_scopes, bot.installed_at) == (
        "xoxb-t1-second",
        "UBOT",
        ["chat:write", "commands"],
        200.0,
    )
    assert (await installations.async_find_bot(enterprise_id=None, team_id="T2")).bot_token == "xoxb-t2"
    assert await installations.async_find_bot(enterprise_id=None, team_id="T9") is None
    org = await installations.async_find_bot(enterprise_id="E1", team_id="T7", is_enterprise_install=True)
    assert org.bot_token == "xoxb-org"  # an org-wide install answers every workspace of the org
    latest = await installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert (latest.user_id, latest.team_name) == ("U3", "Team T1")
    first = await installations.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert first.bot_token == "xoxb-t1-first"
    assert table_rows(db, "SELECT enterprise_id, team_id, user_id FROM slack_installations ORDER BY installed_at") == [
        ("", "T1", "U1"),
        ("", "T2", "U2"),
        ("", "T1", "U3"),
        ("E1", "", "U4"),
    ]


async def test_a_rotated_bot_replaces_the_workspace_bot(store):
    _, installations, _ = store
    await installations.async_save(installed("T1", "U1", "xoxb-old", 100.0))
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T1")
    bot.bot_token, bot.installed_at = "xoxb-rotated", 300.0
    await installations.async_save_bot(bot)
    assert (await installations.async_find_bot(enterprise_id=None, team_id="T1")).bot_token == "xoxb-rotated"


async def test_uninstalling_deletes_the_workspace_alone(store):
    db, installations, _ = store
    await installations.async_save(installed("T1", "U1", "xoxb-t1", 100.0))
    await installations.async_save(installed("T1", "U3", "xoxb-t1-again", 200.0))
    await installations.async_save(installed("T2", "U2", "xoxb-t2", 150.0))
    await installations.async_delete_installation(enterprise_id=None, team_id="T1", user_id="U3")
    assert (await installations.async_find_installation(enterprise_id=None, team_id="T1")).user_id == "U1"
    await installations.async_delete_all(enterprise_id=None, team_id="T1")  # app_uninstalled
    assert await installations.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await installations.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert (await installations.async_find_bot(enterprise_id=None, team_id="T2")).bot_token == "xoxb-t2"
    assert table_rows(db, "SELECT team_id FROM slack_bots") == [("T2",)]


async def test_a_state_is_good_once_and_until_it_expires(store):
    db, _, database = store
    states = DatabaseStateStore(database)
    first, second = await states.async_issue(), await states.async_issue()
    assert first != second and len(first) >= 32
    assert await states.async_consume(first)
    assert not await states.async_consume(first)  # used
    assert not await states.async_consume("never-issued")
    assert not await states.async_consume("")
    execute(db, "UPDATE slack_oauth_states SET expires_at = ?", (1,))  # the installer took too long
    assert not await states.async_consume(second)
    instant = DatabaseStateStore(database, expiration_seconds=0)
    assert not await instant.async_consume(await instant.async_issue())
    assert table_rows(db, "SELECT COUNT(*) FROM slack_oauth_states") == [(0,)]  # none left behind


async def test_a_version_8_database_gets_the_installation_tables(db):
    opened = await open_store(db)
    await opened.close()
    for table in INSTALLATION_TABLES:
        execute(db, f"DROP TABLE {table}")
    execute(db, "UPDATE meta SET value = ? WHERE name = ?", ("8", "schema_version"))
    opened = await open_store(db)
    try:
        await DatabaseInstallationStore(opened.db).async_save(installed("T1", "U1", "xoxb-t1", 100.0))
    finally:
        await opened.close()
    assert table_rows(db, "SELECT value FROM meta WHERE name = ?", ("schema_version",)) == [(str(SCHEMA_VERSION),)]
    assert table_rows(db, "SELECT team_id, user_id FROM slack_installations") == [("T1", "U1")]
