"""One model's channel messages learned in batches, and unlearned exactly.

A message answering another is learned as ``<s> prompt <sep> message </s>`` and kept as a
pair for retrieval, any other as ``<s> <sep> message </s>``, a reply without its prompt; each
stays one unit that forgetting can subtract (see :mod:`dbslm.listening` for the states).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from dbslm.domain import ChannelMessage, ModelInfo, Status
from dbslm.errors import DbslmError
from dbslm.reply.association import association_after, write_association
from dbslm.store import Store
from dbslm.store.database import Transaction
from dbslm.store.pairs import PairStore
from dbslm.store.queue import BatchChanged, QueueStore
from dbslm.text.encoding import ChatTexts
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import TrainReport, resolve_model, train, untrain

log = logging.getLogger(__name__)
PairsChanged = Callable[..., Awaitable[None]]
Switched = Callable[[], Awaitable[None]]
ModelId = Callable[[], Awaitable[int]]
# a build failing with these failed for the database (busy, gone, full: the stores report those as
# a DbslmError's one line), not for its messages
DATABASE_ERRORS = (DbslmError, OSError)
BUILD_MOST = 1_000_000  # queued messages in one build: their texts and token ids are in memory at once


class ChannelLearning:
    """One model's channel messages: queued, learned in batches, forgotten."""

    def __init__(
        self, store: Store, model_name: str, model_id: ModelId, pairs_changed: PairsChanged, switched: Switched
    ) -> None:
        """``model_id`` gives the model's id (created on first use); ``pairs_changed`` hears
        how many pairs a batch added (the model's association is recounted as they grow), or
        that a forgetting removed some (``added`` 0) and wrote the association counted without
        them in its switch; ``switched`` runs after every switch of a batch or forgetting (the
        replier loads the new version then, not in the way of the next reply)."""
        self.store = store
        self.model_name = model_name
        self._pairs_changed = pairs_changed
        self._switched = switched
        self.model_id = model_id
        self.heard = QueueStore(store.db)
        self._lock = asyncio.Lock()  # a batch and a forgetting never interleave

    async def queue(self, messages: Sequence[ChannelMessage]) -> int:
        """Queue messages for the next batch; returns how many were new."""
        return await self.heard.add(await self.model_id(), messages)

    async def messages(self, **filters: object) -> list[ChannelMessage]:
        """The model's channel messages in queue order, filtered as :meth:`QueueStore.messages` takes."""
        return await self.heard.messages(await self.model_id(), **filters)

    async def message(self, key: str) -> ChannelMessage | None:
        """The channel message ``key`` as the model holds or queues it, or None."""
        found = await self.heard.messages(await self.model_id(), message_key=key)
        return found[0] if found else None

    async def learn_queued(self) -> TrainReport | None:
        """Learn every message queued so far, in one build per :data:`BUILD_MOST` of them (the
        ones queued meanwhile wait for the next call: a steady stream of messages never keeps
        the model rebuilding); the report adds up the builds' sentences, tokens and seconds
        (None when nothing was queued).

        A build that fails for its messages (not for the database: that one is raised, and
        they stay queued) is tried again with its first half, and so on: a message that fails
        alone is tried without its prompt, then set aside with the reason; the others are learned."""
        model_id = await self.model_id()
        total, most, last = None, BUILD_MOST, await self.heard.last_queued(model_id)
        while True:
            try:
                report = await self._learn_batch(model_id, most, last)
            except BatchChanged:  # another process sharing the database learned first: take again
                continue
            except _Failed as failed:
                if failed.size > 1:
                    most = failed.size // 2
                elif failed.prompted:  # its prompt may be what fails: try it alone
                    await self.heard.set_prompts(model_id, [failed.first], None)
                else:
                    log.warning(
                        "set aside channel message %s of %s: it cannot be learned (%s)",
                        failed.first,
                        self.model_name,
                        failed.reason,
                    )
                    await self.heard.set_aside(model_id, failed.first, failed.reason)
                    most = BUILD_MOST
                continue
            if report is None:
                return total
            most = BUILD_MOST
            total = (
                report
                if total is None
                else replace(
                    report,
                    sentences=total.sentences + report.sentences,
                    tokens=total.tokens + report.tokens,
                    seconds=total.seconds + report.seconds,
                )
            )

    async def _learn_batch(self, model_id: int, most: int, last: int) -> TrainReport | None:
        async with self._lock:
            await self._drop_opted_out(model_id)
            batch = await self.heard.take(model_id, most, last)
            if batch is None:
                return None
            model = await resolve_model(self.store, self.model_name, None, None, reset=False)
            try:
                report = await train(
                    self.store,
                    model,
                    chat=channel_texts(model, batch.pairs),
                    on_switch=lambda tx, model_id: self.heard.mark_learned(tx, model_id, batch),
                )
            except (BatchChanged, *DATABASE_ERRORS):
                raise
            except Exception as exc:  # noqa: BLE001 - what the messages made fail, whatever it is
                raise _Failed(
                    len(batch.pairs), batch.first, batch.pairs[0][0] is not None, f"{type(exc).__name__}: {exc}"[:200]
                ) from exc
        paired = sum(prompt is not None for prompt, _ in batch.pairs)
        if paired:
            await self._pairs_changed(added=paired)
        await self._switched()
        return report

    async def _drop_opted_out(self, model_id: int) -> None:
        """Drop what people who opted out have queued, and the prompt of the queued messages
        that answer theirs: the database's opt-outs decide at each build, whatever a listening
        process knew when it queued (another one, a Discord shard, may have opted them out)."""
        theirs, answering = await self.heard.queued_of_opted_out(model_id)
        if theirs:
            await self.heard.drop_queued(model_id, theirs)
        if answering:
            await self.heard.set_prompts(model_id, answering, None)

    async def forget_later(self, keys: Sequence[str]) -> None:
        """Mark messages (deleted on their platform) to be subtracted with the next batch, and
        the messages that answer them to be learned again without them."""
        async with self._lock:  # a build in progress decides first whether they are in the model
            await self.heard.mark_forgetting(await self.model_id(), keys)

    async def forget_marked(self) -> TrainReport | None:
        """Subtract every message marked by :meth:`forget_later`, in one build."""
        model_id = await self.model_id()

        async def marked() -> tuple[list[ChannelMessage], list[ChannelMessage]]:
            return (
                await self.heard.messages(model_id, status=Status.FORGETTING),
                await self.heard.messages(model_id, status=Status.UNPAIRING),
            )

        async with self._lock:
            report, _ = await self._forget(model_id, marked)
        return report

    async def forget(self, keys: Sequence[str], edited: ChannelMessage | None = None) -> TrainReport | None:
        """Subtract these messages from the model (and drop queued ones); the messages that
        answer them are learned again after ``edited`` (their new text) or without a prompt."""
        model_id = await self.model_id()

        async def current() -> tuple[list[ChannelMessage], list[ChannelMessage]]:
            return await self.heard.by_keys(model_id, keys), await self.heard.by_keys(model_id, keys, answering=True)

        async with self._lock:
            report, _ = await self._forget(model_id, current, edited)
        return report

    async def forget_user(self, user_id: str) -> int:
        """Subtract every learned message of ``user_id`` (and drop their queued ones), and learn
        again without a prompt the messages that answered theirs; returns how many of theirs
        there were."""
        model_id = await self.model_id()

        async def theirs() -> tuple[list[ChannelMessage], list[ChannelMessage]]:
            return (
                await self.heard.messages(model_id, user_id=user_id),
                [m for m in await self.heard.messages(model_id, prompt_user=user_id) if m.user_id != user_id],
            )

        async with self._lock:
            _, count = await self._forget(model_id, theirs)
            await self.heard.forget_set_aside(model_id, user_id)
        await self.learn_queued()  # the messages that answered theirs, on their own now
        return count

    async def _forget(
        self,
        model_id: int,
        read: Callable[[], Awaitable[tuple[list[ChannelMessage], list[ChannelMessage]]]],
        prompt: ChannelMessage | None = None,
    ) -> tuple[TrainReport | None, int]:
        """Forget the messages ``read`` finds (as they are now, under the lock) and take their
        prompt from the messages that answer them (``prompt`` is what they answer instead),
        reading again when another process changed some of them first; returns the report and
        how many messages were forgotten."""
        while True:
            messages, answering = await read()
            learned = [m for m in messages if m.status != Status.QUEUED]
            queued = [m.message_key for m in messages if m.status == Status.QUEUED]
            forgotten = {m.message_key for m in messages}
            repaired = [
                m
                for m in answering
                if m.status not in (Status.QUEUED, Status.FORGETTING) and m.message_key not in forgotten
            ]
            waiting = [m.message_key for m in answering if m.status == Status.QUEUED]
            if queued:
                await self.heard.drop_queued(model_id, queued)
            if waiting:
                await self.heard.set_prompts(model_id, waiting, prompt)
            try:
                return await self._subtract(model_id, learned, repaired, prompt), len(messages)
            except BatchChanged:  # found at the switch: their rows were gone
                continue
            except DbslmError:  # the counts no longer hold them: subtracted already, or a real error
                if await read() == (messages, answering):
                    raise

    async def _subtract(
        self,
        model_id: int,
        learned: Sequence[ChannelMessage],
        repaired: Sequence[ChannelMessage],
        prompt: ChannelMessage | None,
    ) -> TrainReport | None:
        """Untrain messages the model holds: ``learned`` ones, whose rows are deleted in the
        switch, and ``repaired`` ones, queued again in it to be learned after ``prompt``."""
        if not learned and not repaired:
            return None
        model = await self.store.models.model(self.model_name)
        keys = [m.message_key for m in learned]
        requeued = [m.answering(prompt) for m in repaired]
        chat = channel_texts(model, [m.pair for m in (*learned, *repaired)])
        unpaired = [m.message_key for m in (*learned, *repaired) if m.prompt]
        tokenize = get_tokenizer(model.tokenizer).tokenize
        association = (
            await association_after(PairStore(self.store.db), model.id, tokenize, removed_keys=set(unpaired))
            if unpaired
            else None
        )

        async def switch(tx: Transaction, model_id: int) -> None:
            await self.heard.remove_subtracted(tx, model_id, keys, requeued)
            if association is not None:  # nothing keeps what only their pairs said
                await write_association(tx, model_id, association)

        report = await untrain(self.store, model, chat=chat, on_switch=switch)
        if association is not None:
            await self._pairs_changed(added=0)
        await self._switched()
        return report


class _Failed(Exception):
    """A batch's build failed because of its messages."""

    def __init__(self, size: int, first: str, prompted: bool, reason: str) -> None:
        super().__init__(reason)
        self.size, self.first, self.prompted, self.reason = size, first, prompted, reason


def channel_texts(model: ModelInfo, pairs: Sequence[tuple[str | None, str]]) -> ChatTexts:
    """Each message after the end of its prompt (or as a reply without one), encoded in the
    build's worker thread (only a batch's token ids are ever in memory, not its token lists)."""
    return ChatTexts(pairs, model.tokenizer, model.order - 1)
