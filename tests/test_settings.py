"""Settings from the environment: every number checked, a bad one named in one line."""

from __future__ import annotations

import pytest

from bot.settings import load_bot_settings
from dbslm.config import load_settings
from dbslm.errors import DbslmError


@pytest.mark.parametrize(
    "name, value, refusal",
    [
        ("BOT_USER_RATE", "1.5", "BOT_USER_RATE must be a whole number, not '1.5'"),
        ("BOT_USER_RATE", "0", "BOT_USER_RATE must be at least 1, not '0'"),
        ("BOT_BASE_WEIGHT", "2", "BOT_BASE_WEIGHT must be between 0 and 1, not '2'"),
        ("BOT_RATE_WINDOW", "inf", "BOT_RATE_WINDOW must be a number, not 'inf'"),
        ("BOT_LISTEN_SECONDS", "soon", "BOT_LISTEN_SECONDS must be a number, not 'soon'"),
        ("DBSLM_MARIADB_PORT", "70000", "DBSLM_MARIADB_PORT must be between 1 and 65535, not '70000'"),
        ("DBSLM_SQLITE_FLUSH_BATCH", "nan", "DBSLM_SQLITE_FLUSH_BATCH must be a number, not 'nan'"),
    ],
)
def test_a_bad_number_is_refused_by_name(monkeypatch, name, value, refusal):
    monkeypatch.setenv(name, value)
    with pytest.raises(DbslmError) as refused:
        load_bot_settings()
    assert str(refused.value) == refusal


def test_numbers_keep_their_kind(monkeypatch):
    monkeypatch.setenv("BOT_USER_RATE", "12")
    monkeypatch.setenv("DBSLM_SQLITE_FLUSH_THRESHOLD_MB", "0.5")
    assert load_bot_settings().user_rate == 12 and isinstance(load_bot_settings().user_rate, int)
    assert load_settings().flush_threshold_mb == 0.5
