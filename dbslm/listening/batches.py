"""When each community's queued messages are learned: in one build when ``batch`` of them
wait, or ``seconds`` after the first one came; never one build per message, never in the way
of a reply (builds run in background tasks, one at a time per model)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from dbslm.domain import ChannelMessage
from dbslm.listening.learning import ChannelLearning

log = logging.getLogger(__name__)


@dataclass
class _Community:
    learning: ChannelLearning
    waiting: int = 0
    timer: asyncio.TimerHandle | None = None
    tasks: set[asyncio.Task] = field(default_factory=set)  # batches being learned (one build at a time)


class BatchTimer:
    """Starts the batches of every community."""

    def __init__(self, batch: int, seconds: float) -> None:
        self.batch = batch
        self.seconds = seconds
        self._communities: dict[str, _Community] = {}

    async def add(self, learning: ChannelLearning, row: ChannelMessage) -> None:
        """Queue a listened message of ``learning``'s model; its batch is learned soon."""
        community = self._community(learning)
        community.waiting += await learning.queue([row])
        if community.waiting >= self.batch:
            self._learn(community)
        elif community.waiting and community.timer is None:
            community.timer = asyncio.get_running_loop().call_later(self.seconds, self._learn, community)

    def learn_soon(self, learning: ChannelLearning) -> None:
        """Learn what the model has queued, now (in the background)."""
        self._learn(self._community(learning))

    def schedule(self, learning: ChannelLearning) -> None:
        """Run the model's next batch within the batch interval (deleted messages to subtract)."""
        community = self._community(learning)
        if community.timer is None:
            community.timer = asyncio.get_running_loop().call_later(self.seconds, self._learn, community)

    def _community(self, learning: ChannelLearning) -> _Community:
        if learning.model_name not in self._communities:
            self._communities[learning.model_name] = _Community(learning)
        return self._communities[learning.model_name]

    def _learn(self, community: _Community) -> None:
        if community.timer is not None:
            community.timer.cancel()
            community.timer = None
        community.waiting = 0
        task = asyncio.create_task(self._run(community.learning))
        community.tasks.add(task)
        task.add_done_callback(community.tasks.discard)

    @staticmethod
    async def _run(learning: ChannelLearning) -> None:
        try:  # ChannelLearning builds one batch at a time per model
            await learning.forget_marked()
            report = await learning.learn_queued()
        except Exception:  # a background task: log it; the messages stay queued for the next batch
            log.exception("learning a batch of %s failed", learning.model_name)
            return
        if report is not None:
            log.info(
                "learned %s sentences (%s tokens) into %s in %.2f s",
                report.sentences,
                report.tokens,
                learning.model_name,
                report.seconds,
            )

    async def close(self) -> None:
        """Learn what is waiting and let running batches finish (shutdown)."""
        for community in self._communities.values():
            if community.waiting or community.timer is not None:
                self._learn(community)
        await asyncio.gather(*(t for c in self._communities.values() for t in c.tasks), return_exceptions=True)
