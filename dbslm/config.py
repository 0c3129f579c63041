"""Settings from the environment, with a ``.env`` file (python-dotenv) filling the gaps."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dotenv import find_dotenv, load_dotenv

from dbslm.errors import DbslmError

OLD_DEFAULT_SQLITE_PATH = "var/dbslm.sqlite3"  # the default before 2026-12-06, relative to the working folder
DEFAULT_MODEL = "base"


def default_sqlite_path() -> str:
    """The SQLite file when ``DBSLM_SQLITE_PATH`` is empty: in the user's data folder
    (``$XDG_DATA_HOME/dbslm``, else ``~/.local/share/dbslm``), whatever the working folder."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "dbslm", "dbslm.sqlite3")


def old_default_note(settings: Settings) -> str | None:
    """A line for a user whose working folder holds a database at the old default path while
    the default now lies elsewhere (its models and conversations would otherwise seem gone)."""
    if settings.backend != "sqlite" or os.environ.get("DBSLM_SQLITE_PATH"):
        return None
    old = os.path.abspath(OLD_DEFAULT_SQLITE_PATH)
    if not os.path.exists(old) or os.path.abspath(settings.sqlite_path) == old:
        return None
    return (
        f"note: {OLD_DEFAULT_SQLITE_PATH} here is a database of the old default place; this run uses "
        f"{settings.sqlite_path} (pass --db {OLD_DEFAULT_SQLITE_PATH} or set DBSLM_SQLITE_PATH to use the old one)"
    )


@dataclass(frozen=True)
class Settings:
    backend: str
    sqlite_path: str
    model: str
    mariadb_host: str = "127.0.0.1"
    mariadb_port: int = 3306
    mariadb_user: str = "root"
    mariadb_password: str = field(default="", repr=False)
    mariadb_database: str = "dbslm"
    flush_threshold_mb: float = 1024.0
    flush_batch: int = 500
    dataset_path: str = ""  # prompt/response rows for the probes of `dbslm train --eval-interval`
    embedder_model: str | None = None  # a sentence-transformers model for retrieval (the extra)
    mariadb_configured: bool = False  # DBSLM_MARIADB_HOST is set: a cold tier for flushes exists

    @property
    def mariadb_url(self) -> str:
        """The configured MariaDB database as a URL (it holds the password: never print it)."""
        auth = quote(self.mariadb_user, safe="")
        if self.mariadb_password:
            auth += ":" + quote(self.mariadb_password, safe="")
        return f"mariadb://{auth}@{self.mariadb_host}:{self.mariadb_port}/{quote(self.mariadb_database, safe='')}"

    @property
    def cold_url(self) -> str | None:
        """Where ``/flush`` moves cold contexts: the configured MariaDB, if any."""
        return self.mariadb_url if self.mariadb_configured else None

    @property
    def database(self) -> str:
        """The database to open when none is named, from ``DBSLM_BACKEND``."""
        return self.mariadb_url if self.backend == "mariadb" else self.sqlite_path


def load_settings() -> Settings:
    """Settings from the process environment, then ``.env`` in or above the working folder."""
    load_dotenv(find_dotenv(usecwd=True), override=False)
    env = os.environ.get
    backend = env("DBSLM_BACKEND", "sqlite").strip().lower()
    if backend not in ("sqlite", "mariadb"):
        raise DbslmError(f"DBSLM_BACKEND must be sqlite or mariadb, not {backend!r}")
    return Settings(
        backend=backend,
        sqlite_path=env("DBSLM_SQLITE_PATH", "").strip() or default_sqlite_path(),
        model=env("DBSLM_MODEL", DEFAULT_MODEL),
        mariadb_host=env("DBSLM_MARIADB_HOST", "127.0.0.1"),
        mariadb_port=env_number("DBSLM_MARIADB_PORT", "3306", 1, 65535, kind=int),
        mariadb_user=env("DBSLM_MARIADB_USER", "root"),
        mariadb_password=env("DBSLM_MARIADB_PASSWORD", ""),
        mariadb_database=env("DBSLM_MARIADB_DATABASE", "dbslm"),
        flush_threshold_mb=env_number("DBSLM_SQLITE_FLUSH_THRESHOLD_MB", "1024", 0.001),
        flush_batch=env_number("DBSLM_SQLITE_FLUSH_BATCH", "500", 1, kind=int),
        embedder_model=env("DBSLM_EMBEDDER_MODEL", "").strip() or None,
        mariadb_configured=bool(env("DBSLM_MARIADB_HOST", "").strip()),
        dataset_path=env("DBSLM_DATASET_PATH", ""),
    )


def env_number(name: str, default: str, low: float, high: float | None = None, kind: type = float) -> Any:
    """The number (``kind``: float or int) in the variable ``name`` (``default`` when unset),
    at least ``low`` and at most ``high``: anything else is a one-line error naming the variable."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DbslmError(f"{name} must be a number, not {text!r}")
    if kind is int and not value.is_integer():
        raise DbslmError(f"{name} must be a whole number, not {text!r}")
    if not low <= value <= (high if high is not None else float("inf")):
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise DbslmError(f"{name} must be {bounds}, not {text!r}")
    return kind(value)
