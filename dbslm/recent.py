"""A dict that keeps only its most recently stored entries: the caches of the reply path and
the adapters' memory of the events they have seen."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(OrderedDict[K, V]):
    """The ``limit`` most recently stored entries: storing one (again) makes it the newest, and
    past ``limit`` the one stored longest ago goes. Lookups (``in``, ``[]``, ``get``) are the
    plain dict's, as fast as on the reply path they must be, and do not count as a use: a
    caller that wants an entry kept longer stores it again."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        OrderedDict.__setitem__(self, key, value)  # not super(): its lookup costs a quarter of an insert
        self.move_to_end(key)
        if len(self) > self.limit:
            self.popitem(last=False)
