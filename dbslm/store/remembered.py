"""The counts of the build this process wrote last, kept so that its next rebuild (a big batch,
a forgetting) starts from them instead of reading the whole model back: 0.85 s at a million
messages on MariaDB. Batches that change that build in place are kept beside them, to be
merged in by the rebuild that uses them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from dbslm.ngram.counting import OrderCounts

KEEP_COUNTS_MOST = 10_000_000  # n-grams whose counts a process keeps between builds: 160 MB
KEEP_BATCH_TOKENS = 5_000_000  # tokens of the batches changed in place kept beside them: 40 MB

Identity = Callable[[int], Awaitable[tuple]]


@dataclass
class Remembered:
    """A build's counts as it was written, and the batches (token ids, 1 added or -1 taken
    away) changed in it since, oldest first."""

    counts: list[OrderCounts]
    batches: list[tuple[np.ndarray, int]] = field(default_factory=list)


class RememberedCounts:
    """One build's counts, valid while its identity (creation time and version: SQLite reuses
    the id of a deleted last row, and each batch in place bumps the version) is the one seen
    when they were last brought up to date."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._kept: tuple[int, tuple, Remembered] | None = None

    async def keep(self, build: int, counts: list[OrderCounts]) -> None:
        """Keep the counts of ``build``, just written (not when it has more than
        :data:`KEEP_COUNTS_MOST` n-grams)."""
        small = sum(len(order.keys) for order in counts) <= KEEP_COUNTS_MOST
        self._kept = (build, await self._identity(build), Remembered(counts)) if small else None

    def changed(self, build: int, version: int, ids: np.ndarray, sign: int) -> None:
        """A batch (``sign`` times the n-grams of ``ids``) changed ``build`` in place from
        ``version``: keep it beside the counts if they were up to date before it."""
        if self._kept is None or self._kept[0] != build:
            return
        _, identity, remembered = self._kept  # (creation time, version) as read from its row
        tokens = len(ids) + sum(len(batch) for batch, _ in remembered.batches)
        if len(identity) != 2 or (identity[1] or 0) != version or tokens > KEEP_BATCH_TOKENS:
            self._kept = None
            return
        remembered.batches.append((ids, sign))
        self._kept = (build, (identity[0], version + 1), remembered)

    async def of(self, build: int) -> Remembered | None:
        """The counts of ``build`` and the batches since, if this process kept them and nothing
        else changed it."""
        if self._kept is None or self._kept[0] != build:
            return None
        return self._kept[2] if await self._identity(build) == self._kept[1] else None
