"""DBSLMEngine: the async facade the bot and the command line talk to, one model each.

It ties the services together for a conversation: replies (dbslm.reply.replier), training
and forgetting (dbslm.training, dbslm.listening), conversations and corrections (the store's
conversation rows) and administration (dbslm.admin).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass

from dbslm import admin
from dbslm.domain import Conversation, Correction, LogEntry, Message, ModelInfo
from dbslm.errors import DbslmError
from dbslm.generation import BIAS_STRENGTH
from dbslm.listening.learning import ChannelLearning
from dbslm.reply.association import fit_weight, refresh_vectors
from dbslm.reply.replier import SESSION_TURNS, Loaded, Replier
from dbslm.store import Store, open_store
from dbslm.store.channels import ChannelStore
from dbslm.store.cold import FlushReport
from dbslm.store.concepts import ConceptStore
from dbslm.store.pairs import PairStore
from dbslm.text.tokenize import get_tokenizer
from dbslm.text.valid import bounded, repaired
from dbslm.training.builds import DEFAULT_ORDER, DEFAULT_TOKENIZER, TrainReport, resolve_model, train
from dbslm.training.teaching import teach, unteach

log = logging.getLogger(__name__)

DEFAULT_BASE_WEIGHT = 0.3  # the base model's share in a community model's replies
PENDING = "conversation"  # a correction's scope until an admin decides


@dataclass(frozen=True)
class Reply:
    id: int  # the logged message
    text: str
    tokens: list[str]
    concept: str | None
    latency_ms: float


class DBSLMEngine:
    """One model of one database, for conversations."""

    def __init__(
        self,
        store: Store,
        model: str = "base",
        profile: str = "default",
        banned_words: Iterable[str] = (),
        embedder: str | None = None,
        base: DBSLMEngine | None = None,
        base_weight: float = DEFAULT_BASE_WEIGHT,
    ) -> None:
        """``embedder`` names a sentence-transformers model that ranks learned responses (the model's
        count-derived word vectors do if None).
        With a ``base`` engine (of the same store) the model answers from its own distribution
        interpolated with the base model's, ``base_weight`` the base's share; it never trains it."""
        self.store, self.model_name, self.base = store, model, base
        self.conversations, self.pairs = store.conversations, PairStore(store.db)
        self.concepts = ConceptStore(store.db)
        self.channels = ChannelStore(store.db)  # its community's settings
        self.replier = Replier(
            store,
            model,
            self._model,
            profile,
            banned_words,
            embedder,
            base.replier if base is not None else None,
            base_weight,
        )
        self.learning = ChannelLearning(store, model, self.model_id, self._pairs_changed, self._switched)
        self._pairs_counted, self._pairs_uncounted = 0, 0  # channel pairs learned, in and after the last count
        self._id: int | None = None

    @classmethod
    async def open(
        cls, db: str, model: str = "base", embedder: str | None = None, cold_url: str | None = None
    ) -> DBSLMEngine:  # cold_url: see open_store
        return cls(await open_store(db, cold_url=cold_url), model, embedder=embedder)

    async def close(self) -> None:
        await self.store.close()

    # -- training ---------------------------------------------------------------------------

    async def train_text(
        self, lines: Iterable[str], *, order: int | None = None, tokenizer: str | None = None
    ) -> TrainReport:
        """Learn plain text, one sentence per line."""
        model = await resolve_model(self.store, self.model_name, order, tokenizer, reset=False)
        tokenize = get_tokenizer(model.tokenizer).tokenize
        sentences = await asyncio.to_thread(lambda: [t for t in map(tokenize, lines) if t])
        return await train(self.store, model, sentences)

    async def train_dialog(
        self,
        pairs: Iterable[tuple[str, str]],
        *,
        order: int | None = None,
        source: str = "dialog",
        user_id: str | None = None,
    ) -> TrainReport:
        """Learn prompt/response pairs: the n-grams of each reply after its prompt, and the
        pair itself for retrieval (taught by ``user_id``: forgetting them subtracts it)."""
        pairs = [pair for pair in pairs if pair[1].strip()]  # kept whole: a DialogPair has metadata
        model = await resolve_model(self.store, self.model_name, order, None, reset=False)
        report, association = await teach(self.store, model, pairs, source, user_id)
        tokenize = get_tokenizer(model.tokenizer).tokenize
        await fit_weight(self.pairs, await self.model_id(), association.vectors, tokenize)
        self._vectors_counted()
        return report

    async def refresh_vectors(self, fit: bool = True) -> int:
        """Recount the model's word vectors from its pairs, and fit its prompt weight unless not
        to; returns how many words have one."""
        model = await self._model()
        words = await refresh_vectors(self.pairs, model.id, get_tokenizer(model.tokenizer).tokenize, fit)
        self._vectors_counted()
        return words

    def _vectors_counted(self) -> None:
        self._pairs_counted, self._pairs_uncounted = self._pairs_counted + self._pairs_uncounted, 0
        self.replier.reload()  # the next reply reads them

    async def _pairs_changed(self, added: int) -> None:
        """Channel messages changed the model's pairs: the word vectors are recounted once a tenth
        more (at least 100) were added; a forgetting (``added`` 0) wrote them in its switch."""
        self._pairs_uncounted += added
        if not added:
            self._vectors_counted()
        elif self._pairs_uncounted >= max(100, self._pairs_counted // 10):
            await self.refresh_vectors(fit=False)  # the fit's queries would hold up replies; a training fits

    async def _switched(self) -> None:
        """A batch or a forgetting switched the model: load its new version now (replies answer
        from the one before meanwhile). The batch is learned whatever this meets: the next reply
        loads the version if this could not."""
        try:
            await self.replier.load()
        except DbslmError as exc:
            log.warning("could not load the new version of %s yet: %s", self.model_name, exc)

    # -- conversations ----------------------------------------------------------------------

    async def start_conversation(self, user_id: str, agent: str = "dbslm", channel_key: str | None = None) -> int:
        return await self.conversations.start_conversation(await self.model_id(), user_id, agent, channel_key)

    async def conversation_for_channel(self, channel_key: str, user_id: str, agent: str = "dbslm") -> int:
        """The conversation logged for a channel (or thread, or DM), started on first use."""
        return (await self._channel_conversation(channel_key, user_id, agent)).id

    async def _channel_conversation(self, channel_key: str, user_id: str, agent: str = "dbslm") -> Conversation:
        model_id = await self.model_id()
        found = await self.conversations.conversation_for_channel(model_id, channel_key)
        if found is not None:
            return found
        conversation_id = await self.conversations.start_conversation(model_id, user_id, agent, channel_key)
        return Conversation(conversation_id, model_id, user_id, agent, channel_key)

    async def _conversation(self, conversation_id: int, messages: int) -> tuple[Conversation, list[Message]]:
        """The conversation and its last ``messages`` messages, oldest first."""
        conversation, recent = await self.conversations.conversation_and_history(conversation_id, messages)
        if conversation is None:
            raise DbslmError(f"no conversation {conversation_id}")
        return conversation, recent

    async def model_id(self) -> int:
        """The model's id (it never changes); a model is created (without a build) on first use,
        with its base's order and tokenizer."""
        if self._id is None:
            self._id = (await self._model()).id
        return self._id

    def set_banned(self, words: Iterable[str]) -> None:
        """Never say these words (from the next reply on)."""
        self.replier.set_banned(words)

    @property
    def banned_words(self) -> frozenset[str]:
        return self.replier.banned_words

    @property
    def embedder_model(self) -> str | None:
        return self.replier.embedder_model

    async def _model(self) -> ModelInfo:
        found = await self.store.models.model(self.model_name)
        if found is not None:
            return found
        like = await self.base._model() if self.base is not None else None
        return await self.store.models.ensure_model(
            self.model_name, like.order if like else DEFAULT_ORDER, like.tokenizer if like else DEFAULT_TOKENIZER
        )

    async def history(self, conversation_id: int, n: int = 20) -> list[Message]:
        return await self.conversations.history(conversation_id, n)

    async def respond(
        self, conversation_id: int, text: str, *, seed: int | None = None, user_id: str | None = None
    ) -> Reply:
        """Log ``text``, answer it and log the answer."""
        started = time.perf_counter()
        text = repaired(text)
        conversation, recent = await self._conversation(conversation_id, SESSION_TURNS)
        asked = LogEntry("user", user_id or conversation.user_id, bounded(text))
        return await self._reply_with(conversation, text, recent, started, seed, asked)

    async def respond_in_channel(self, channel_key: str, text: str, user_id: str) -> Reply:
        """Log ``text`` in the channel's conversation (started on first use), answer it and log
        the answer. The conversation's messages and the model's build are read at once."""
        started = time.perf_counter()
        text = repaired(text)
        loading = asyncio.ensure_future(self.replier.load())
        loading.add_done_callback(_retrieved)  # its failure is raised where the answer awaits it
        conversation = await self._channel_conversation(channel_key, user_id)
        recent = await self.conversations.history(conversation.id, SESSION_TURNS)
        asked = LogEntry("user", user_id, bounded(text))
        return await self._reply_with(conversation, text, recent, started, None, asked, loading=loading)

    async def _reply_with(
        self,
        conversation: Conversation,
        text: str,
        recent: list[Message],
        started: float,
        seed: int | None = None,
        asked: LogEntry | None = None,
        loading: Awaitable[Loaded | None] | None = None,
        **values: str,
    ) -> Reply:
        """Answer ``text`` after the messages ``recent`` (the conversation's last SESSION_TURNS,
        which do not include it), from the model as ``loading`` reads it (read now if not given);
        log the message ``asked`` (when given) and the answer in one transaction."""
        try:
            loaded = await (loading or self.replier.load())
            concept, reply_text, tokens = await self.replier.answer(conversation.id, text, recent, seed, values, loaded)
        except BaseException:  # a failure, or the task cancelled (a shutdown)
            if asked is not None:  # the message is kept even when no answer comes
                await self.conversations.log(conversation.id, asked)
            raise
        answer = LogEntry("bot", conversation.agent, reply_text, concept)
        reply_id = await self.conversations.log(conversation.id, *([asked] if asked else []), answer)
        return Reply(reply_id, reply_text, tokens, concept, (time.perf_counter() - started) * 1000)

    async def record_correction(
        self, conversation_id: int, corrected_text: str, reply_id: int | None = None, user_id: str | None = None
    ) -> int:
        """Tie a better answer to a reply (default: the conversation's last); from now on
        the same prompt in this conversation is answered with it."""
        corrected = bounded(repaired(corrected_text.strip()))
        if not corrected:
            raise DbslmError("a correction needs the better answer: /correct <better answer>")
        conversation, messages = await self._conversation(conversation_id, 200)
        bot_turns = [
            i
            for i, m in enumerate(messages)
            if m.role == "bot" and m.concept != "acknowledge" and (reply_id is None or m.id == reply_id)
        ]
        if not bot_turns:
            raise DbslmError("there is no reply of mine to correct in this conversation yet")
        at = bot_turns[-1]
        prompt = next((m.text for m in reversed(messages[:at]) if m.role == "user"), "")
        return await self.conversations.record_correction(
            await self.model_id(),
            conversation_id,
            messages[at].id,
            user_id or conversation.user_id,
            prompt,
            corrected,
            BIAS_STRENGTH,
        )

    async def acknowledge(self, conversation_id: int, answer: str, correction_id: int | None = None) -> Reply:
        """The bot's acknowledgement of a correction (the ``acknowledge`` concept), logged; it
        names the question the correction applies to when ``correction_id`` is given."""
        started = time.perf_counter()
        conversation, recent = await self._conversation(conversation_id, SESSION_TURNS)
        found = (
            await self.conversations.corrections(await self.model_id(), correction_id=correction_id)
            if correction_id is not None
            else []
        )
        await self.concepts.signal(conversation_id, "acknowledge")
        return await self._reply_with(
            conversation, "", recent, started, answer=answer.strip(), question=found[0].prompt.strip() if found else ""
        )

    async def pending_corrections(self) -> list[Correction]:
        """Corrections made in this model's conversations that wait for an admin's decision."""
        return await self.conversations.corrections(await self.model_id(), scope=PENDING)

    async def approve_correction(self, correction_id: int) -> bool:
        """Make a pending correction of this model apply in every conversation and learn it as
        a pair (admins only); False when the model has no such pending correction."""
        found = await self.conversations.corrections(await self.model_id(), scope=PENDING, correction_id=correction_id)
        if not found:
            return False
        await self.train_dialog([(found[0].prompt, found[0].corrected)], source="correction", user_id=found[0].user_id)
        return await self.conversations.approve_correction(correction_id)

    async def reject_correction(self, correction_id: int) -> bool:
        """Withdraw a pending correction of this model (admins only); False when there is none."""
        if not await self.conversations.corrections(await self.model_id(), scope=PENDING, correction_id=correction_id):
            return False
        await self.conversations.reject_correction(correction_id)
        return True

    async def forget_user(
        self, user_id: str, only_this_model: bool = False, communities: Iterable[DBSLMEngine] = ()
    ) -> dict[str, int]:
        """Delete the user's conversations, messages, corrections, biases and pairs (of this
        model only, if asked), and subtract what this model (and each of ``communities``, other
        models of this store) learned from their channel messages: each becomes exactly the
        model trained without them. Returns the rows removed per table."""
        learned = 0
        for engine in dict.fromkeys((self, *communities)):  # first: if one fails, nothing else is gone
            learned += await engine.learning.forget_user(user_id)
        model_id = await self.model_id()
        taught = await unteach(self.store, user_id, self.model_name if only_this_model else None)
        removed = await self.conversations.forget_user(user_id, model_id if only_this_model else None)
        if removed["pairs"]:
            await self.refresh_vectors()  # no vector keeps what only their pairs said
        await self.store.db.erase_deleted()
        return {**removed, "learned": learned, "taught_pairs": taught}

    async def stats(self) -> dict[str, object]:
        """See :func:`dbslm.admin.stats`."""
        return await admin.stats(self.store, self.model_name)

    async def flush(self, cold_url: str, batch: int) -> FlushReport:
        """Move up to ``batch`` of the model's coldest contexts to the MariaDB at ``cold_url``."""
        return await admin.flush(self.store, self.model_name, cold_url, batch)


def _retrieved(task: asyncio.Future) -> None:
    """Mark a task's failure as seen (whoever awaits it meets it; nobody may)."""
    if not task.cancelled():
        task.exception()
