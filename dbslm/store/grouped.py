"""Group commit: writers that come while the writer is busy share its next transaction.

Each caller hands its items and waits for the commit that holds them; a busy stream of small
writes (a message queued per channel message) then costs one commit per turn of the writer,
not one per caller. A group whose transaction fails is written again caller by caller, so that
a bad item fails its own caller only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from dbslm.store.database import Database, Transaction

K = TypeVar("K", bound=Hashable)
Item = TypeVar("Item")  # what one caller writes
R = TypeVar("R")

Write = Callable[[Transaction, K, list[Item]], Awaitable[Sequence[R]]]


class GroupCommit(Generic[K, Item, R]):
    """``write(tx, key, items)`` for the items of every caller waiting on ``key``, in one
    transaction; it returns one result per item, in their order."""

    def __init__(self, db: Database, write: Write) -> None:
        self.db, self.write = db, write
        self._waiting: dict[K, list[tuple[Item, asyncio.Future[R]]]] = {}  # per key, the next commit's callers
        self._committing: set[asyncio.Task] = set()

    async def __call__(self, key: K, item: Item) -> R:
        """Write ``item`` in the next commit for ``key``; returns its result once committed."""
        group = self._waiting.get(key)
        if group is None:
            group = self._waiting[key] = []
            task = asyncio.create_task(self._commit(key))
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)
        mine: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        group.append((item, mine))
        return await asyncio.shield(mine)  # a caller that gives up leaves the others their commit

    async def _commit(self, key: K) -> None:
        group: list[tuple[Item, asyncio.Future[R]]] = []
        try:
            async with self.db.transaction() as tx:
                group = self._waiting.pop(key)  # all who came while the writer was busy
                results = await self.write(tx, key, [item for item, _ in group])
        except Exception as exc:  # noqa: BLE001 - handed to the callers
            group = group or self._waiting.pop(key, [])
            await self._one_by_one(key, group, exc)
        else:
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)
        finally:  # cancelled (a shutdown): nobody waits for a commit that will not come
            for _, future in group or self._waiting.pop(key, []):
                if not future.done():
                    future.cancel()

    async def _one_by_one(self, key: K, group: list[tuple[Item, asyncio.Future[R]]], failed: Exception) -> None:
        """A failed group's callers each in a transaction of their own."""
        if len(group) == 1:
            group[0][1].set_exception(failed)
            return
        for item, future in group:
            try:
                async with self.db.transaction() as tx:
                    (result,) = await self.write(tx, key, [item])
                future.set_result(result)
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
