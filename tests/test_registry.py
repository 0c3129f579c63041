"""The command registry: one declaration per command drives parsing, checks, help and handlers."""

from __future__ import annotations

import pytest

from bot.registry import BY_NAME, UsageError, checked, parse
from dbslm.listening.backfill import DEFAULT_LIMIT


def args(text: str) -> dict:
    name, _, rest = text.partition(" ")
    return parse(BY_NAME[name], rest)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/history", {"n": 10}),
        ("/history 5", {"n": 5}),
        ("/chance 15%", {"percent": 15.0}),
        ("/chance 0", {"percent": 0.0}),
        ("/approve #12", {"number": 12}),
        ("/listen ON", {"state": "on"}),
        ("/ban add wax  candles", {"action": "add", "words": "wax candles"}),
        ("/ban list", {"action": "list", "words": None}),
        ("/forget", {"user": None, "confirm": False}),
        ("/forget confirm", {"user": None, "confirm": True}),
        ("/forget <@!42>", {"user": "42", "confirm": False}),
        ("/train history", {"history": DEFAULT_LIMIT, "text": None}),
        ("/train history 200", {"history": 200, "text": None}),
        ("/train the history of bees", {"history": None, "text": "the history of bees"}),
        ("/correct  Paris is the capital ", {"text": "Paris is the capital"}),
        ("/flush", {"n": None}),
    ],
)
def test_typed_text_becomes_typed_arguments(text, expected):
    assert args(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "/history 0",
        "/history 51",
        "/history lots",
        "/chance 150",
        "/chance abc",
        "/chance nan",
        "/approve soon",
        "/approve",
        "/listen maybe",
        "/ban",
        "/train history lots",
        "/flush 0",
        "/correct",
        "/stats now",
        "/approve 1 2",
    ],
)
def test_text_that_does_not_fit_gets_the_usage_line(text):
    with pytest.raises(UsageError) as refused:
        args(text)
    assert str(refused.value) == BY_NAME[text.split()[0]].usage


@pytest.mark.parametrize(
    "name, given",
    [
        ("/chance", {"percent": 150.0}),
        ("/chance", {"percent": "50"}),
        ("/history", {"n": True}),
        ("/listen", {"state": "maybe"}),
        ("/approve", {}),
        ("/forget", {"confirm": "yes"}),
    ],
)
def test_arguments_a_platform_typed_are_checked_again(name, given):
    with pytest.raises(UsageError):
        checked(BY_NAME[name], given)


def test_typed_arguments_get_their_defaults():
    assert checked(BY_NAME["/history"], {}) == {"n": 10}
    assert checked(BY_NAME["/train"], {"history": 30}) == {"history": 30, "text": None}
    assert checked(BY_NAME["/forget"], {"user": "21"}) == {"user": "21", "confirm": False}
