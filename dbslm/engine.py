"""DBSLMEngine: the async facade the bot talks to.

train text and dialogs, start conversations, respond, take corrections, show history, forget
a user, report statistics. Replies are generated token by token from the model's tables; the
pointer cache holds responses to similar earlier prompts and the conversation's recent turns,
and corrections in force for the conversation become span biases.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from dbslm.concepts.span import concept_span
from dbslm.decoder import DecodeSettings
from dbslm.domain import Conversation, Correction, LogEntry, Message, ModelInfo
from dbslm.errors import DbslmError
from dbslm.generation import BIAS_STRENGTH, generate, span_ids
from dbslm.listening.learning import ChannelLearning
from dbslm.memory.cache import PointerCache
from dbslm.memory.embedding import Embedder, load_embedder
from dbslm.reading.mixture import MixedReader, combined_vocabulary
from dbslm.reading.reader import ModelReader
from dbslm.reply.association import fit_weight, load_vectors, refresh_vectors
from dbslm.reply.context import biases_for, cache_sequences
from dbslm.reply.ranking import Ranker
from dbslm.reply.vectors import WordVectors
from dbslm.store import Store, open_store
from dbslm.store.cold import FlushReport
from dbslm.store.concepts import ConceptStore
from dbslm.store.conversations import ConversationStore
from dbslm.store.pairs import PairStore
from dbslm.store.profiles import ProfileStore
from dbslm.teaching import teach, unteach
from dbslm.text.tokenize import detokenize, get_tokenizer
from dbslm.text.valid import MAX_INPUT_CHARS, bounded, repaired
from dbslm.text.vocab import BOS, SEP, Vocabulary
from dbslm.training import DEFAULT_ORDER, DEFAULT_TOKENIZER, TrainReport, resolve_model, train

SESSION_TURNS = 6
CONVERSATION_WINDOW = 50  # messages a reply may look back on (the session cache, summaries)
SENTENCE_ENDS = (".", "!", "?", "…")
CLOSING = "\"'”’»)]"  # may follow a sentence's end
DEFAULT_BASE_WEIGHT = 0.3  # the base model's share in a community model's replies
PENDING = "conversation"  # a correction's scope until an admin decides
UNTRAINED_REPLY = "I have not been trained yet: an admin can teach me with /train (or dbslm train)."


@dataclass(frozen=True)
class Reply:
    id: int  # the logged message
    text: str
    tokens: list[str]
    concept: str | None
    latency_ms: float


@dataclass
class _Loaded:
    model: ModelInfo  # this engine's model (it may have no build yet when a base answers)
    builds: tuple  # the own and the base build this was loaded from, each with its version
    own: ModelReader | None  # the reader of its own build
    reader: ModelReader | MixedReader
    vocab: Vocabulary
    banned: frozenset[int]  # ids of the banned words
    vectors: WordVectors  # its own, or its base's when it has none
    ranker: Ranker
    model_ids: tuple[int, ...]  # the models it answers from: its own, then the base's
    tokens: int  # the tokens those models were trained on


class DBSLMEngine:
    """One model of one database, for conversations."""

    def __init__(self, store: Store, model: str = "base", profile: str = "default",
                 banned_words: Iterable[str] = (), embedder: str | None = None,
                 base: DBSLMEngine | None = None, base_weight: float = DEFAULT_BASE_WEIGHT) -> None:
        """``embedder`` names a sentence-transformers model that ranks learned responses (the model's
        count-derived word vectors do if None).
        With a ``base`` engine (of the same store) the model answers from its own distribution
        interpolated with the base model's, ``base_weight`` the base's share; it never trains it."""
        self.store, self.model_name, self.base, self.base_weight = store, model, base, base_weight
        self.profile, self.banned_words = profile, frozenset(banned_words)
        self.settings = DecodeSettings()
        self.conversations, self.pairs = ConversationStore(store.db), PairStore(store.db)
        self.profiles = ProfileStore(store.db)
        self.concepts = ConceptStore(store.db)
        self.learning = ChannelLearning(store, model, self.model_id, self._pairs_changed)
        self._pairs_counted, self._pairs_uncounted = 0, 0  # channel pairs learned, in and after the last count
        self.embedder_model = embedder
        self._embedder: Embedder | None = None
        self._embedder_loaded = False
        self._loaded: _Loaded | None = None
        self._loading = asyncio.Lock()
        self._id: int | None = None

    @classmethod
    async def open(cls, db: str, model: str = "base", embedder: str | None = None,
                   cold_url: str | None = None) -> DBSLMEngine:  # cold_url: see open_store
        return cls(await open_store(db, cold_url=cold_url), model, embedder=embedder)

    async def close(self) -> None:
        await self.store.close()

    # -- training ---------------------------------------------------------------------------

    async def train_text(self, lines: Iterable[str], *, order: int | None = None,
                         tokenizer: str | None = None) -> TrainReport:
        """Learn plain text, one sentence per line."""
        model = await resolve_model(self.store, self.model_name, order, tokenizer, reset=False)
        tokenize = get_tokenizer(model.tokenizer).tokenize
        sentences = await asyncio.to_thread(lambda: [t for t in map(tokenize, lines) if t])
        return await train(self.store, model, sentences)

    async def train_dialog(self, pairs: Iterable[tuple[str, str]], *, order: int | None = None,
                           source: str = "dialog", user_id: str | None = None) -> TrainReport:
        """Learn prompt/response pairs: the n-grams of each reply after its prompt, and the
        pair itself for retrieval (taught by ``user_id``: forgetting them subtracts it)."""
        pairs = [pair for pair in pairs if pair[1].strip()]  # kept whole: a DialogPair has metadata
        model = await resolve_model(self.store, self.model_name, order, None, reset=False)
        report, vectors = await teach(self.store, model, pairs, source, user_id)
        await fit_weight(self.pairs, await self.model_id(), vectors, get_tokenizer(model.tokenizer).tokenize)
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
        self._loaded = None  # the next reply reads them

    async def _pairs_changed(self, added: int) -> None:
        """Channel messages changed the model's pairs: the word vectors are recounted once a tenth
        more (at least 100) were added; a forgetting (``added`` 0) wrote them in its switch."""
        self._pairs_uncounted += added
        if not added:
            self._vectors_counted()
        elif self._pairs_uncounted >= max(100, self._pairs_counted // 10):
            await self.refresh_vectors(fit=False)  # the fit's queries would hold up replies; a training fits

    # -- conversations ----------------------------------------------------------------------

    async def start_conversation(self, user_id: str, agent: str = "dbslm", channel_key: str | None = None) -> int:
        return await self.conversations.start_conversation(await self.model_id(), user_id, agent, channel_key)

    async def conversation_for_channel(self, channel_key: str, user_id: str, agent: str = "dbslm") -> int:
        """The conversation logged for a channel (or thread, or DM), started on first use."""
        model_id = await self.model_id()
        found = await self.conversations.conversation_for_channel(model_id, channel_key)
        if found is not None:
            return found.id
        return await self.conversations.start_conversation(model_id, user_id, agent, channel_key)

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
        self.banned_words = frozenset(words)
        self._loaded = None

    async def _model(self) -> ModelInfo:
        found = await self.store.models.model(self.model_name)
        if found is not None:
            return found
        like = await self.base._model() if self.base is not None else None
        return await self.store.models.ensure_model(self.model_name, like.order if like else DEFAULT_ORDER,
                                                    like.tokenizer if like else DEFAULT_TOKENIZER)

    async def history(self, conversation_id: int, n: int = 20) -> list[Message]:
        return await self.conversations.history(conversation_id, n)

    async def respond(self, conversation_id: int, text: str, *, seed: int | None = None,
                      user_id: str | None = None) -> Reply:
        """Log ``text``, answer it and log the answer."""
        started = time.perf_counter()
        text = repaired(text)
        conversation, recent = await self._conversation(conversation_id, CONVERSATION_WINDOW)
        asked = LogEntry("user", user_id or conversation.user_id, bounded(text))
        return await self._reply_with(conversation, text, recent, started, seed, asked)

    async def _reply_with(self, conversation: Conversation, text: str, recent: list[Message], started: float,
                          seed: int | None = None, asked: LogEntry | None = None, **values: str) -> Reply:
        """Answer ``text`` after the messages ``recent`` (which do not include it); log the
        message ``asked`` (when given) and the answer in one transaction."""
        try:
            concept, reply_text, tokens = await self._answer(conversation.id, text, recent, seed, values)
        except BaseException:  # a failure, or the task cancelled (a shutdown)
            if asked is not None:  # the message is kept even when no answer comes
                await self.conversations.log(conversation.id, asked)
            raise
        answer = LogEntry("bot", conversation.agent, reply_text, concept)
        reply_id = await self.conversations.log(conversation.id, *([asked] if asked else []), answer)
        return Reply(reply_id, reply_text, tokens, concept, (time.perf_counter() - started) * 1000)

    async def record_correction(self, conversation_id: int, corrected_text: str, reply_id: int | None = None,
                                user_id: str | None = None) -> int:
        """Tie a better answer to a reply (default: the conversation's last); from now on
        the same prompt in this conversation is answered with it."""
        corrected = bounded(repaired(corrected_text.strip()))
        if not corrected:
            raise DbslmError("a correction needs the better answer: /correct <better answer>")
        conversation, messages = await self._conversation(conversation_id, 200)
        bot_turns = [i for i, m in enumerate(messages) if m.role == "bot" and m.concept != "acknowledge"
                     and (reply_id is None or m.id == reply_id)]
        if not bot_turns:
            raise DbslmError("there is no reply of mine to correct in this conversation yet")
        at = bot_turns[-1]
        prompt = next((m.text for m in reversed(messages[:at]) if m.role == "user"), "")
        return await self.conversations.record_correction(await self.model_id(), conversation_id, messages[at].id,
                                                   user_id or conversation.user_id, prompt, corrected, BIAS_STRENGTH)

    async def acknowledge(self, conversation_id: int, answer: str, correction_id: int | None = None) -> Reply:
        """The bot's acknowledgement of a correction (the ``acknowledge`` concept), logged; it
        names the question the correction applies to when ``correction_id`` is given."""
        started = time.perf_counter()
        conversation, recent = await self._conversation(conversation_id, CONVERSATION_WINDOW)
        found = await self.conversations.corrections(await self.model_id(), correction_id=correction_id) \
            if correction_id is not None else []
        await self.concepts.signal(conversation_id, "acknowledge")
        return await self._reply_with(conversation, "", recent, started, answer=answer.strip(),
                                      question=found[0].prompt.strip() if found else "")

    async def pending_corrections(self) -> list[Correction]:
        """Corrections made in this model's conversations that wait for an admin's decision."""
        return await self.conversations.corrections(await self.model_id(), scope=PENDING)

    async def approve_correction(self, correction_id: int) -> bool:
        """Make a pending correction of this model apply in every conversation and learn it as
        a pair (admins only); False when the model has no such pending correction."""
        found = await self.conversations.corrections(await self.model_id(), scope=PENDING, correction_id=correction_id)
        if not found:
            return False
        await self.train_dialog([(found[0].prompt, found[0].corrected)], source="correction",
                                user_id=found[0].user_id)
        return await self.conversations.approve_correction(correction_id)

    async def reject_correction(self, correction_id: int) -> bool:
        """Withdraw a pending correction of this model (admins only); False when there is none."""
        if not await self.conversations.corrections(await self.model_id(), scope=PENDING, correction_id=correction_id):
            return False
        await self.conversations.reject_correction(correction_id)
        return True

    async def forget_user(self, user_id: str, only_this_model: bool = False) -> dict[str, int]:
        """Delete the user's conversations, messages, corrections, biases and pairs (of this
        model only, if asked), and subtract what this model learned from their channel
        messages: it becomes exactly the model trained without them. Returns the rows
        removed per table."""
        model_id = await self.model_id()
        learned = await self.learning.forget_user(user_id)  # first: if it fails, nothing else is gone
        taught = await unteach(self.store, user_id, self.model_name if only_this_model else None)
        removed = await self.conversations.forget_user(user_id, model_id if only_this_model else None)
        if removed["pairs"]:
            await self.refresh_vectors()  # no vector keeps what only their pairs said
        await self.store.db.erase_deleted()
        return {**removed, "learned": learned, "taught_pairs": taught}

    async def stats(self) -> dict[str, object]:
        model = await self.store.models.model(self.model_name)
        if model is None or model.active_build is None:
            return {"model": self.model_name, "trained": False}
        tokens, built_at = await self.store.models.build_summary(model)
        return {"model": model.name, "trained": True, "order": model.order, "tokenizer": model.tokenizer,
                "build": model.active_build, "ngrams": await self.store.models.build_counts(model.active_build),
                "tokens": tokens, "built_at": built_at}

    async def flush(self, cold_url: str, batch: int) -> FlushReport:
        """Move up to ``batch`` of the model's coldest contexts to the MariaDB at ``cold_url``."""
        if self.store.db.dialect.name != "sqlite":
            raise DbslmError("the model already lives in MariaDB: there is nothing to flush")
        cold = await self.store.attach_cold(cold_url)
        async with self.store.db.lock(f"train:{self.model_name}"):  # no batch changes it meanwhile
            model = await self.store.models.model(self.model_name)
            if model is None or model.active_build is None:
                raise DbslmError(f"model {self.model_name!r} has not been trained yet: there is nothing to flush")
            return await cold.flush(model.active_build, batch, lambda _stage: None)

    # -- generation -------------------------------------------------------------------------

    async def _load(self, model: ModelInfo | None = None) -> _Loaded | None:
        """The model's reader and vocabulary (mixed with the base's when there is a base),
        reloaded when a build changes (in place too); None when nothing is trained. ``model`` is its row
        when the caller has just read it."""
        names = (self.model_name, *((self.base.model_name,) if self.base is not None else ()))
        found = {} if model is not None else await self.store.models.models(names)  # one query for both
        model = model or found.get(self.model_name) or await self._model()
        base = await self.base._load(found.get(names[-1])) if self.base is not None else None
        if model.active_build is None and base is None:
            return None
        builds = (model.active_build, model.version, *(base.builds[:2] if base else ()))
        if self._loaded is None or self._loaded.builds != builds:
            async with self._loading:  # one reload, however many replies notice the new build at once
                if self._loaded is None or self._loaded.builds != builds:
                    self._loaded = await self._reload(model, base, builds)
        return self._loaded

    async def _reload(self, model: ModelInfo, base: _Loaded | None, builds: tuple) -> _Loaded:
        own = self._loaded.own if self._loaded is not None and model.active_build is not None else None
        if model.active_build is not None and (own is None or not await own.refresh(model)):  # kept: a batch changed it
            own = await ModelReader.open(self.store.models, model)
        vocab = await self.store.models.vocabulary(model) if own is not None else Vocabulary()
        reader: ModelReader | MixedReader | None = own
        if base is not None:
            own_size = len(vocab)
            vocab, to_base, from_base = await asyncio.to_thread(combined_vocabulary, vocab, base.vocab)
            reader = MixedReader(own, own_size, base.reader, to_base, from_base, self.base_weight)
        banned = frozenset(vocab.index[w] for w in self.banned_words if w in vocab.index)
        if not self._embedder_loaded:  # a sentence model takes seconds to load: once, shared with communities
            base_engine = self.base
            self._embedder = base_engine._embedder if base_engine is not None and base_engine._embedder_loaded \
                else await asyncio.to_thread(load_embedder, self.embedder_model)
            self._embedder_loaded = True
        tokenize = get_tokenizer(model.tokenizer).tokenize
        searched = (model.id,) + ((base.model.id,) if base is not None else ())
        self.settings = await self.profiles.decode_settings(model.id, self.profile)
        tokens = (await self.store.models.build_summary(model))[0] + (base.tokens if base is not None else 0)
        vectors = await load_vectors(self.pairs, model.id)
        if not vectors.words and base is not None:
            vectors = base.vectors
        ranker = Ranker(self.pairs, vectors, self._embedder, searched, tokenize, self.settings.prompt_weight)
        return _Loaded(model, builds, own, reader, vocab, banned, vectors, ranker, searched, tokens)

    async def _answer(self, conversation_id: int, text: str, recent: list[Message], seed: int | None,
                      values: dict[str, str]) -> tuple[str | None, str, list[str]]:
        if len(text) > MAX_INPUT_CHARS:
            return "refusal", (f"That message is too long for me: {len(text):,} characters, "
                               f"and I read up to {MAX_INPUT_CHARS:,}."), []
        loaded = await self._load()
        if loaded is None:
            return "untrained", UNTRAINED_REPLY, []
        tokenize = get_tokenizer(loaded.model.tokenizer).tokenize
        prompt = tokenize(text)
        vocab = loaded.vocab
        overlay: dict[int, str] = {}
        biases = await biases_for(self.conversations, loaded.model.id, conversation_id, prompt, tokenize)
        corrected = [b.span for b in biases]
        spans = [span_ids(span, tokenize, vocab, overlay) for span in corrected]
        concept, concept_text = await concept_span(self.concepts, self.store.models, loaded.model, loaded.model_ids,
                                                   loaded.tokens, conversation_id, prompt, recent, values)
        start = span_ids(concept_text, tokenize, vocab, overlay)
        history = [BOS, *vocab.ids(prompt, grow=False), SEP]
        if concept is not None and concept_text.rstrip().rstrip(CLOSING).endswith(SENTENCE_ENDS):
            reply, written = start, concept_text  # a complete sentence: Level 1 has nothing to add
        else:
            cache = PointerCache(await cache_sequences(
                loaded.ranker, vocab, tokenize, text, prompt, recent[-SESSION_TURNS:], spans, corrected,
                self.settings.cache_decay))
            likely = [list(s.ids[1:]) for s in cache.sequences] + spans  # replies tend to follow these
            await loaded.reader.prefetch(history + path[:i] for path in likely for i in range(len(path) + 1))
            rng = random.Random(seed)
            for _ in range(3):  # an empty reply is drawn again with the same generator
                reply = await generate(loaded.reader, history, cache, spans, start, loaded.banned, self.settings, rng)
                if reply:
                    break
            written = cache.verbatim(reply)  # a learned answer copied whole keeps its own spacing
        tokens = [overlay.get(i) or vocab.texts[i] for i in reply]
        if not tokens:
            return "no_answer", "I don't know what to say to that.", []
        name = concept.name if concept else "correction" if spans else None
        return name, written or detokenize(tokens), tokens
