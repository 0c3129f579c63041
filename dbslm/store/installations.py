"""Installations of a Slack app into many workspaces, in rows: each installation and bot as a
JSON document keyed by org and workspace ('' for none), and the state values of installs under way.

The documents hold tokens: this module stores and returns them, and never puts one in a message.
"""

from __future__ import annotations

from dbslm.store.database import Database

INSTALLATION_COLUMNS = ("enterprise_id", "team_id", "user_id", "data", "installed_at")
BOT_COLUMNS = ("enterprise_id", "team_id", "data", "installed_at")


class InstallationRows:
    """The ``slack_installations``, ``slack_bots`` and ``slack_oauth_states`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save_installation(
        self, enterprise: str, team: str, user: str, data: str, installed_at: float, bot: str | None = None
    ) -> None:
        """Keep ``data`` as the installation of ``user`` in the workspace (replacing theirs), and
        ``bot`` (when given) as the workspace's bot, in one transaction."""
        async with self.db.transaction() as tx:
            await tx.execute(
                self.db.dialect.upsert("slack_installations", INSTALLATION_COLUMNS, INSTALLATION_COLUMNS[:3]),
                (enterprise, team, user, data, installed_at),
            )
            if bot is not None:
                await tx.execute(self._bot_upsert, (enterprise, team, bot, installed_at))

    async def save_bot(self, enterprise: str, team: str, data: str, installed_at: float) -> None:
        """Keep ``data`` as the workspace's bot (replacing the one before)."""
        async with self.db.transaction() as tx:
            await tx.execute(self._bot_upsert, (enterprise, team, data, installed_at))

    @property
    def _bot_upsert(self) -> str:
        return self.db.dialect.upsert("slack_bots", BOT_COLUMNS, BOT_COLUMNS[:2])

    async def installation(self, enterprise: str, team: str, user: str | None = None) -> str | None:
        """The installation of ``user`` in the workspace, or its latest by anyone when ``user`` is None."""
        row = await self.db.fetchone(
            "SELECT data FROM slack_installations WHERE enterprise_id = ? AND team_id = ? "
            + ("AND user_id = ? " if user is not None else "")
            + "ORDER BY installed_at DESC LIMIT 1",
            (enterprise, team) + ((user,) if user is not None else ()),
        )
        return row[0] if row else None

    async def bot(self, enterprise: str, team: str) -> str | None:
        """The workspace's bot, if the app is installed there."""
        row = await self.db.fetchone(
            "SELECT data FROM slack_bots WHERE enterprise_id = ? AND team_id = ?", (enterprise, team)
        )
        return row[0] if row else None

    async def delete_installations(self, enterprise: str, team: str, user: str | None = None) -> None:
        """Delete the installation of ``user`` in the workspace, or every one when ``user`` is None."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?"
                + (" AND user_id = ?" if user is not None else ""),
                (enterprise, team) + ((user,) if user is not None else ()),
            )

    async def delete_bot(self, enterprise: str, team: str) -> None:
        """Delete the workspace's bot."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM slack_bots WHERE enterprise_id = ? AND team_id = ?", (enterprise, team))

    async def issue_state(self, state: str, expires_at: float, now: float) -> None:
        """Keep a new state value until ``expires_at``; the expired ones go."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM slack_oauth_states WHERE expires_at <= ?", (now,))
            await tx.execute("INSERT INTO slack_oauth_states (state, expires_at) VALUES (?, ?)", (state, expires_at))

    async def consume_state(self, state: str, now: float) -> bool:
        """Whether ``state`` was issued and has not expired; it is gone afterwards (used once)."""
        async with self.db.transaction() as tx:
            taken = await tx.executemany(
                "DELETE FROM slack_oauth_states WHERE state = ? AND expires_at > ?", [(state, now)]
            )
            await tx.execute("DELETE FROM slack_oauth_states WHERE expires_at <= ?", (now,))
        return taken == 1
