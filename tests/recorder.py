"""What a fake platform server received, with a way to wait for it."""

from __future__ import annotations

import asyncio


class Recorder(list):
    """A list of received calls that a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._grown = asyncio.Event()

    def add(self, item: dict) -> None:
        self.append(item)
        self._grown.set()

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        """The calls so far, once there are at least ``count`` of them."""
        async def enough() -> None:
            while len(self) < count:
                self._grown.clear()
                await self._grown.wait()
        await asyncio.wait_for(enough(), timeout)
        return self
