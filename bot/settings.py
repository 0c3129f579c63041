"""The bot's settings (admins, limits) from the environment and .env."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dotenv import find_dotenv, load_dotenv

from dbslm.config import load_settings


@dataclass(frozen=True)
class BotSettings:
    admins: frozenset[str]  # platform-qualified user ids, e.g. discord:1234
    user_rate: int  # messages a user may send per window
    channel_rate: int  # messages a channel may get answered per window
    rate_window: float  # seconds
    max_upload_mb: float
    cold_url: str | None = field(default=None, repr=False)  # MariaDB for /flush (holds a password)
    flush_batch: int = 500  # contexts one /flush moves at most


def load_bot_settings() -> BotSettings:
    load_dotenv(find_dotenv(usecwd=True), override=False)
    env = os.environ.get
    storage = load_settings()
    return BotSettings(
        admins=frozenset(a.strip() for a in env("BOT_ADMINS", "").split(",") if a.strip()),
        user_rate=int(env("BOT_USER_RATE", "8")),
        channel_rate=int(env("BOT_CHANNEL_RATE", "30")),
        rate_window=float(env("BOT_RATE_WINDOW", "60")),
        max_upload_mb=float(env("BOT_MAX_UPLOAD_MB", "10")),
        cold_url=storage.cold_url,
        flush_batch=storage.flush_batch,
    )
