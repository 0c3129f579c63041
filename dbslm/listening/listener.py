"""The listener: what happens to the messages of listened channels, for every community, from
the moment they are heard (observed, edited, deleted) to their batch."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from dbslm.domain import ChannelMessage, Status
from dbslm.errors import DbslmError
from dbslm.listening.batches import BatchTimer
from dbslm.listening.learning import ChannelLearning
from dbslm.listening.pairing import Heard, LastMessages, answered, by_someone_else, history_rows, learnable
from dbslm.recent import Recent

log = logging.getLogger(__name__)
REMEMBERED_DELETIONS = 10_000


class Listener:
    """Queues what may be learned of each heard message after the message it answers, and
    has it learned (or unlearned) with its community's next batch."""

    def __init__(self, batch: int, seconds: float) -> None:
        self.batches = BatchTimer(batch, seconds)
        self.last = LastMessages()
        self._deleted: Recent[str, None] = Recent(REMEMBERED_DELETIONS)  # recently deleted messages, never learned

    async def observe(self, learning: ChannelLearning, heard: Heard, opted_out: frozenset[str]) -> None:
        """Queue a listened channel's message after the message it answers (neither by its
        author nor by someone in ``opted_out``)."""
        row = learnable(heard, self._deleted)
        if row is not None:
            row = row.answering(by_someone_else(await self._prompt(learning, heard), row.user_id, opted_out))
            await self.batches.add(learning, row)
        self.last.heard(heard.conversation, row, heard.sent_at)

    def unanswerable(self, conversation: str, at: float | None = None) -> None:
        """The newest message of ``conversation`` is one nobody answers as a prompt (a bot's)."""
        self.last.heard(conversation, None, at)

    async def _prompt(self, learning: ChannelLearning, heard: Heard) -> ChannelMessage | None:
        """What ``heard`` answers, as it is learned (looked up when the platform sent only its id)."""
        prompt = answered(heard, *self.last.before(heard.conversation), heard.sent_at or time.time(), self._deleted)
        if prompt is None and heard.replied is None and heard.reply_to is not None:
            prompt = await learning.message(heard.reply_to)
        return prompt

    async def deleted(self, learning: ChannelLearning, key: str) -> None:
        """A message was deleted on its platform: never learned from now on (its creation, or a
        backfill page holding it, may still be on the way), and subtracted exactly from the model
        with its next batch, so a purge costs one rebuild, not one each."""
        self._deleted[key] = None
        await learning.forget_later([key])
        self.batches.schedule(learning)

    async def edited(self, learning: ChannelLearning, heard: Heard, listening: bool) -> None:
        """A message was edited: its old text unlearned at once and the new one queued (when
        ``listening`` and the rules allow) after the message it answered; the messages that
        answer it are learned again after its new text. An edit that leaves the learned text as
        it was changes nothing."""
        row = learnable(heard, self._deleted)
        learned = await learning.message(heard.key)
        if learned is not None and row is not None and learned.text == row.text:
            return
        try:
            await learning.forget([heard.key], edited=row)
        except DbslmError as exc:  # the model no longer holds it (retrained from scratch, say)
            log.warning("could not unlearn an edited message from %s: %s", learning.model_name, exc)
            return
        if row is not None and listening:
            old = learned if learned is not None and learned.status != Status.UNPAIRING else None  # its prompt stays
            await self.batches.add(
                learning,
                replace(
                    row,
                    prompt_key=old and old.prompt_key,
                    prompt_user=old and old.prompt_user,
                    prompt=old and old.prompt,
                ),
            )
        else:
            self.batches.schedule(learning)  # the messages that answered it, learned again

    def history_rows(self, page: list[Heard]) -> list[ChannelMessage]:
        """What to learn of a page of a channel's history, newest first (see :func:`history_rows`)."""
        return history_rows(page, self._deleted)

    def resume(self, learning: ChannelLearning) -> None:
        """Learn what a previous run queued but did not learn."""
        self.batches.learn_soon(learning)

    async def close(self) -> None:
        """Learn what is waiting and let running batches finish (shutdown)."""
        await self.batches.close()
