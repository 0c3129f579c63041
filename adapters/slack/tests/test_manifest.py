"""The Slack app manifest (adapters/slack/manifest.yml) parses, and asks for what the bot uses: the
registry's slash commands, the OAuth flow's scopes, the bot events the adapter answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.slack.oauth import BOT_EVENTS, SCOPES
from bot.registry import COMMANDS

MANIFEST = Path(__file__).parent.parent / "manifest.yml"


@pytest.fixture
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_the_manifest_makes_a_socket_mode_bot_people_can_message(manifest):
    assert manifest["display_information"]["name"] and manifest["features"]["bot_user"]["display_name"]
    assert manifest["settings"]["socket_mode_enabled"] is True
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False


def test_the_manifest_registers_every_command_of_the_registry_with_escaping(manifest):
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [c.slash for c in COMMANDS]
    assert [c["description"] for c in commands] == [c.help for c in COMMANDS]
    assert all(c["should_escape"] is True for c in commands)  # /forget @member names the member


def test_the_manifest_asks_for_the_scopes_and_events_the_code_uses(manifest):
    assert manifest["oauth_config"]["scopes"]["bot"] == list(SCOPES)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
