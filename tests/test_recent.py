"""dbslm.recent.Recent: the bounded dict of the reply path's caches and the adapters' memories."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dbslm.recent import Recent


def test_past_the_limit_the_entry_stored_longest_ago_goes():
    cache: Recent[str, int] = Recent(3)
    for i, key in enumerate("abcd"):
        cache[key] = i
    assert list(cache.items()) == [("b", 1), ("c", 2), ("d", 3)]


def test_storing_again_makes_an_entry_the_newest_and_looking_does_not():
    cache: Recent[str, int] = Recent(3)
    cache.update(a=1, b=2, c=3)
    cache["a"] = 10
    assert cache.get("b") == 2 and "b" in cache and cache["b"] == 2
    cache["d"] = 4
    assert list(cache) == ["c", "a", "d"]  # b went: only looked at since it was stored


@given(st.integers(1, 8), st.lists(st.integers(0, 20)))
def test_it_holds_the_limit_most_recently_stored_keys(limit, keys):
    cache: Recent[int, None] = Recent(limit)
    for key in keys:
        cache[key] = None
    newest_first = list(dict.fromkeys(reversed(keys)))[:limit]
    assert list(cache) == newest_first[::-1]
