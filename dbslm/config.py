"""Settings from the environment, with a ``.env`` file (python-dotenv) filling the gaps."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dotenv import find_dotenv, load_dotenv

DEFAULT_SQLITE_PATH = "var/dbslm.sqlite3"
DEFAULT_MODEL = "base"


@dataclass(frozen=True)
class Settings:
    backend: str
    sqlite_path: str
    model: str

    @property
    def database(self) -> str:
        """The database to open when none is named: the SQLite path for now."""
        return self.sqlite_path


def load_settings() -> Settings:
    """Settings from the process environment, then ``.env`` in or above the working folder."""
    load_dotenv(find_dotenv(usecwd=True), override=False)
    env = os.environ.get
    return Settings(
        backend=env("DBSLM_BACKEND", "sqlite"),
        sqlite_path=env("DBSLM_SQLITE_PATH", DEFAULT_SQLITE_PATH),
        model=env("DBSLM_MODEL", DEFAULT_MODEL),
    )
