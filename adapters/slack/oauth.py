"""One deployment installed into many workspaces: slack-bolt's OAuth flow, its installations and
its state values kept in the bot's own database (SQLite or MariaDB) by slack_sdk's store interfaces.

The bot scopes are what the adapter uses: each bot event it subscribes to and each Web API
method it calls needs one (``SLACK_SCOPES`` may name others). The app manifest
(``adapters/slack/manifest.yml``) asks for the same.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_utils import OAuthStateUtils

from dbslm.store.database import Database
from dbslm.store.installations import InstallationRows

EVENT_SCOPES = {  # the bot events the adapter answers, and the scope each needs
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",  # and conversations.history (backfill, /history)
    "message.groups": "groups:history",  # the same in private channels
}
METHOD_SCOPES = {  # the Web API methods the adapter calls, and the scope each needs
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "users.info": "users:read",  # is the member a workspace admin?
    "files.info": "files:read",  # and downloading a file /train is given
}
# an uninstalled app's (or revoked token's) workspace is deleted from the store; no scope needed
BOT_EVENTS = (*EVENT_SCOPES, "app_uninstalled", "tokens_revoked")
SCOPES = ("commands", *sorted(set(EVENT_SCOPES.values()) | set(METHOD_SCOPES.values())))
log = logging.getLogger(__name__)


def oauth_settings(env: Mapping[str, str], db: Database) -> AsyncOAuthSettings:
    """Bolt's OAuth flow from SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_SCOPES (comma-separated;
    :data:`SCOPES` when empty) and SLACK_REDIRECT_URI (optional), its stores on ``db``."""
    return AsyncOAuthSettings(
        client_id=env["SLACK_CLIENT_ID"],
        client_secret=env["SLACK_CLIENT_SECRET"],
        scopes=[s.strip() for s in env.get("SLACK_SCOPES", "").split(",") if s.strip()] or list(SCOPES),
        user_scopes=[],
        redirect_uri=env.get("SLACK_REDIRECT_URI") or None,
        installation_store=DatabaseInstallationStore(db),
        installation_store_bot_only=True,  # the bot acts with its bot token alone
        state_store=DatabaseStateStore(db),
        logger=log,
    )


def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False) -> tuple[str, str]:
    """The rows' key of a workspace: its org and team ids ('' for none; an org-wide install has no team)."""
    return enterprise_id or "", "" if is_enterprise_install else team_id or ""


class DatabaseInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store on the bot's database: the latest bot of each workspace and
    each installer's installation, as slack_sdk's own JSON of them (as its file store writes)."""

    def __init__(self, db: Database) -> None:
        self._rows = InstallationRows(db)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        """Keep an installation, and its bot when it has a bot token, in one transaction."""
        enterprise, team = _key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        bot = installation.to_bot() if installation.bot_token else None
        await self._rows.save_installation(
            enterprise,
            team,
            installation.user_id or "",
            json.dumps(installation.__dict__),
            installation.installed_at,
            json.dumps(bot.__dict__) if bot else None,
        )

    async def async_save_bot(self, bot: Bot) -> None:
        """Keep a bot (a rotated token's, say) as its workspace's."""
        enterprise, team = _key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await self._rows.save_bot(enterprise, team, json.dumps(bot.__dict__), bot.installed_at)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        """The workspace's bot, or None where the app is not installed."""
        data = await self._rows.bot(*_key(enterprise_id, team_id, is_enterprise_install))
        return Bot(**json.loads(data)) if data else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The installation by ``user_id`` in the workspace, or its latest when ``user_id`` is None."""
        data = await self._rows.installation(*_key(enterprise_id, team_id, is_enterprise_install), user_id)
        return Installation(**json.loads(data)) if data else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the workspace's bot (its token was revoked)."""
        await self._rows.delete_bot(*_key(enterprise_id, team_id))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Forget the installation by ``user_id`` in the workspace, or all of them when it is None."""
        await self._rows.delete_installations(*_key(enterprise_id, team_id), user_id)


class DatabaseStateStore(AsyncOAuthStateStore):
    """slack_sdk's OAuth state store on the bot's database: each state value is good once, until it expires."""

    def __init__(self, db: Database, expiration_seconds: float = OAuthStateUtils.default_expiration_seconds) -> None:
        self._rows = InstallationRows(db)
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        """A new random state value for an install's authorize link."""
        state, now = secrets.token_urlsafe(24), time.time()
        await self._rows.issue_state(state, now + self.expiration_seconds, now)
        return state

    async def async_consume(self, state: str) -> bool:
        """Whether ``state`` was issued here and has not expired; either way it is good no more."""
        return bool(state) and await self._rows.consume_state(state, time.time())
