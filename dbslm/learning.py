"""Learning from channel messages, and unlearning them exactly.

A message is queued (a ``learned`` row, pending) when it arrives and learned with the others
of its batch in one build (taken by sequence number: rows queued meanwhile wait for the next
one): each message is the sequence ``<s> <sep> message </s>``, a reply without its prompt, so
it teaches how replies go and stays one unit that forgetting can subtract. The transaction
that switches to the build holding a batch moves the queue's ``learned`` number past it, and
rows are deleted in the one that switches to the build without them, so the tables always
say exactly what the serving model was trained on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace

from dbslm.errors import DbslmError
from dbslm.store import Store
from dbslm.store.community import FORGETTING, LEARNED, BatchChanged, CommunityStore, LearnedMessage
from dbslm.text.tokenize import get_tokenizer
from dbslm.training import TrainReport, resolve_model, train, untrain

BUILD_MOST = 1_000_000  # queued messages in one build: their texts and token ids are in memory at once


class ChannelLearning:
    """One model's learned messages."""

    def __init__(self, store: Store, model_name: str) -> None:
        self.store = store
        self.model_name = model_name
        self.rows = CommunityStore(store.db)
        self._lock = asyncio.Lock()  # a batch and a forgetting never interleave

    async def queue(self, model_id: int, messages: Sequence[LearnedMessage]) -> int:
        """Queue messages for the next batch; returns how many were new."""
        return await self.rows.add_pending(model_id, messages)

    async def learn_pending(self, model_id: int) -> TrainReport | None:
        """Learn every queued message, in one build per :data:`BUILD_MOST` of them; the report
        adds up the builds' sentences, tokens and seconds (None when nothing was queued)."""
        total = None
        while True:
            try:
                report = await self._learn_batch(model_id)
            except BatchChanged:  # another process sharing the database learned first: take again
                continue
            if report is None:
                return total
            total = report if total is None else replace(
                report, sentences=total.sentences + report.sentences, tokens=total.tokens + report.tokens,
                seconds=total.seconds + report.seconds)

    async def _learn_batch(self, model_id: int) -> TrainReport | None:
        async with self._lock:
            batch = await self.rows.take_pending(model_id, BUILD_MOST)
            if batch is None:
                return None
            model = await resolve_model(self.store, self.model_name, None, None, reset=False)
            return await train(self.store, model, dialog=_replies(model.tokenizer, batch.texts),
                               on_switch=lambda tx, model_id: self.rows.mark_learned(tx, model_id, batch))

    async def forget_later(self, model_id: int, keys: Sequence[str]) -> None:
        """Mark messages (deleted on their platform) to be subtracted with the next batch."""
        async with self._lock:  # a build in progress decides first whether they are in the model
            await self.rows.mark_forgetting(model_id, keys)

    async def forget_marked(self, model_id: int) -> TrainReport | None:
        """Subtract every message marked by :meth:`forget_later`, in one build."""
        async with self._lock:
            report, _ = await self._forget(model_id, lambda: self.rows.messages(model_id, status=FORGETTING))
        return report

    async def forget(self, model_id: int, messages: Sequence[LearnedMessage]) -> TrainReport | None:
        """Subtract learned messages from the model (and drop queued ones)."""
        if not messages:
            return None
        keys = [m.message_key for m in messages]
        async with self._lock:
            report, _ = await self._forget(model_id, lambda: self.rows.by_keys(model_id, keys))
        return report

    async def forget_user(self, model_id: int, user_id: str) -> int:
        """Subtract every learned message of ``user_id`` (and drop their queued ones); returns
        how many there were."""
        async with self._lock:
            _, count = await self._forget(model_id, lambda: self.rows.messages(model_id, user_id=user_id))
        return count

    async def _forget(self, model_id: int, read: Callable[[], Awaitable[list[LearnedMessage]]]
                      ) -> tuple[TrainReport | None, int]:
        """Forget the messages ``read`` finds (as they are now, under the lock), read again when
        another process subtracted some of them first; returns the report and how many there were."""
        while True:
            messages = await read()
            learned = [m for m in messages if m.status in (LEARNED, FORGETTING)]
            queued = [m.message_key for m in messages if m.status not in (LEARNED, FORGETTING)]
            if queued:
                await self.rows.drop_pending(model_id, queued)
            try:
                return await self._subtract(model_id, learned), len(messages)
            except BatchChanged:  # found at the switch: their rows were gone
                continue
            except DbslmError:  # the counts no longer hold them: subtracted already, or a real error
                if await read() == messages:
                    raise

    async def _subtract(self, model_id: int, learned: Sequence[LearnedMessage]) -> TrainReport | None:
        """Untrain messages the model holds, their rows deleted in the switch."""
        if not learned:
            return None
        model = await self.store.level1.model(self.model_name)
        keys = [m.message_key for m in learned]
        return await untrain(self.store, model, dialog=_replies(model.tokenizer, [m.text for m in learned]),
                             on_switch=lambda tx, model_id: self.rows.remove_subtracted(tx, model_id, keys))


def _replies(tokenizer: str, texts: Sequence[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Each message as a reply without its prompt, tokenized as the build's worker thread
    reads it (so only the token ids of a batch are ever in memory, not its token lists)."""
    tokenize = get_tokenizer(tokenizer).tokenize
    return (([], tokenize(text)) for text in texts)
