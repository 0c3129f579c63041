"""The bot's settings (admins, limits, communities) from the environment and .env."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bot.errors import BotError
from dbslm.config import env_number, load_settings

SCOPES = ("server", "global", "channel")
# Never learned from a channel and never said: slurs and the commonest obscenities. Admins
# extend or trim a community's list with /ban; BOT_BANNED_WORDS replaces this default.
DEFAULT_BANNED = frozenset(
    {
        "fuck",
        "fucking",
        "motherfucker",
        "shit",
        "cunt",
        "bitch",
        "asshole",
        "bastard",
        "dick",
        "cock",
        "pussy",
        "slut",
        "whore",
        "fag",
        "faggot",
        "nigger",
        "nigga",
        "retard",
        "kike",
        "spic",
        "chink",
        "tranny",
    }
)


@dataclass(frozen=True)
class BotSettings:
    admins: frozenset[str]  # platform-qualified user ids, e.g. discord:1234
    user_rate: int  # messages a user may send per window
    channel_rate: int  # messages a channel may get answered per window
    rate_window: float  # seconds
    max_upload_mb: float
    cold_url: str | None = field(default=None, repr=False)  # MariaDB for /flush (holds a password)
    flush_batch: int = 500  # contexts one /flush moves at most
    model_scope: str = "server"  # a model per server (guild, workspace), one for all, or per channel
    base_weight: float = 0.3  # the base model's share in a community's replies
    listen_batch: int = 500  # listened messages learned together ...
    listen_seconds: float = 30.0  # ... or after this long, whichever comes first
    banned_words: frozenset[str] = DEFAULT_BANNED
    chance_seed: int | None = None  # seeds the unprompted-reply draws (tests); None: random


def load_bot_settings() -> BotSettings:
    """The settings, each checked: a bad value is a one-line error naming the variable."""
    storage = load_settings()  # reads .env too
    env = os.environ.get
    scope = env("BOT_MODEL_SCOPE", "server").strip().lower()
    if scope not in SCOPES:
        raise BotError(f"BOT_MODEL_SCOPE must be one of {', '.join(SCOPES)}, not {scope!r}")
    banned = env("BOT_BANNED_WORDS")
    seed = env("BOT_CHANCE_SEED", "").strip()
    return BotSettings(
        admins=frozenset(a.strip() for a in env("BOT_ADMINS", "").split(",") if a.strip()),
        user_rate=env_number("BOT_USER_RATE", "8", 1, kind=int),
        channel_rate=env_number("BOT_CHANNEL_RATE", "30", 1, kind=int),
        rate_window=env_number("BOT_RATE_WINDOW", "60", 0.001),
        max_upload_mb=env_number("BOT_MAX_UPLOAD_MB", "10", 0.001),
        cold_url=storage.cold_url,
        flush_batch=storage.flush_batch,
        model_scope=scope,
        base_weight=env_number("BOT_BASE_WEIGHT", "0.3", 0.0, 1.0),
        listen_batch=env_number("BOT_LISTEN_BATCH", "500", 1, kind=int),
        listen_seconds=env_number("BOT_LISTEN_SECONDS", "30", 0.001),
        banned_words=DEFAULT_BANNED
        if banned is None
        else frozenset(w.strip().lower() for w in banned.split(",") if w.strip()),
        chance_seed=env_number("BOT_CHANCE_SEED", seed, 0, kind=int) if seed else None,
    )
