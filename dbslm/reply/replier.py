"""The replier: one model's answer to a message, token by token from its tables.

The model's reader, vocabulary, word counts, word vectors, decoding profile and concepts are
loaded once per build and version (mixed with a base model's in a community). The pointer
cache holds responses to similar earlier prompts and the conversation's recent turns;
corrections in force for the conversation become span biases; a concept may start the reply
with a span of its own.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from dbslm.concepts.classifier import Background, spellings
from dbslm.concepts.span import catalog, concept_span
from dbslm.decoder import DecodeSettings
from dbslm.domain import Concept, Message, ModelInfo
from dbslm.generation import generate, span_ids
from dbslm.memory.cache import PointerCache
from dbslm.memory.embedding import Embedder, load_embedder
from dbslm.memory.retrieval import is_word
from dbslm.reading.mixture import CombinedVocabulary, MixedReader
from dbslm.reading.reader import Bounded, ModelReader
from dbslm.reply.association import load_vectors
from dbslm.reply.context import biases_for, cache_sequences
from dbslm.reply.ranking import Ranker
from dbslm.reply.vectors import WordVectors
from dbslm.store import Store
from dbslm.store.concepts import ConceptStore
from dbslm.store.pairs import PairStore
from dbslm.store.profiles import ProfileStore
from dbslm.text.tokenize import detokenize, get_tokenizer
from dbslm.text.valid import MAX_INPUT_CHARS
from dbslm.text.vocab import BOS, CONTROL_TOKENS, SEP, UNK, Vocabulary

SESSION_TURNS = 6  # the conversation's last messages whose words a reply may take up
CONVERSATION_WINDOW = 50  # the messages a concept's payload reads (a summary's topics)
SENTENCE_ENDS = (".", "!", "?", "…")
CLOSING = "\"'”’»)]"  # may follow a sentence's end
UNTRAINED_REPLY = "I have not been trained yet: an admin can teach me with /train (or dbslm train)."
UNKNOWN_WORDS_REPLY = "I have not learned any of those words yet, so I have nothing to say to that."


@dataclass
class Loaded:
    """What a replier answers from, read once per build."""

    model: ModelInfo  # the replier's model (it may have no build yet when a base answers)
    builds: tuple  # the own and the base build this was loaded from, each with its version
    own: ModelReader | None  # the reader of its own build
    reader: Bounded | MixedReader  # what replies draw from
    vocab: Vocabulary
    banned: frozenset[int]  # ids of the banned words
    vectors: WordVectors  # its own, or its base's when it has none
    ranker: Ranker
    settings: DecodeSettings  # the model's decoding profile
    model_ids: tuple[int, ...]  # the models it answers from: its own, then the base's
    frequencies: tuple[dict[str, int], ...]  # each of those models' trained words and their counts
    concepts: list[Concept]  # the model's concept catalog
    tokens: int  # the tokens those models were trained on

    def background(self, prompt: list[str]) -> Background:
        """How often the models saw the prompt's words (each of its :func:`spellings`)."""
        found = {text: sum(counts.get(text, 0) for counts in self.frequencies) for text in spellings(prompt)}
        return Background.merged(found, self.tokens)


class Replier:
    """Answers messages from one model (and its base's, in a community)."""

    def __init__(
        self,
        store: Store,
        model_name: str,
        model: Callable[[], Awaitable[ModelInfo]],
        profile: str,
        banned_words: Iterable[str],
        embedder: str | None,
        base: Replier | None,
        base_weight: float,
    ) -> None:
        """``model`` reads the model's row (creating it on first use); ``embedder`` names a
        sentence-transformers model that ranks learned responses (the model's count-derived
        word vectors do if None); with a ``base`` replier the model answers from its own
        distribution interpolated with the base's, ``base_weight`` the base's share."""
        self.store, self.model_name, self.model = store, model_name, model
        self.base, self.base_weight = base, base_weight
        self.profile, self.banned_words = profile, frozenset(banned_words)
        self.embedder_model = embedder
        self.conversations, self.pairs = store.conversations, PairStore(store.db)
        self.profiles, self.concepts = ProfileStore(store.db), ConceptStore(store.db)
        self._embedder: Embedder | None = None
        self._embedder_loaded = False
        self._loaded: Loaded | None = None
        self._combined: tuple[tuple, CombinedVocabulary] | None = None  # with the builds it combines
        self._stale = False  # reload() asked for the vectors, profile, concepts and bans again
        self._loading = asyncio.Lock()

    def set_banned(self, words: Iterable[str]) -> None:
        """Never say these words (from the next reply on)."""
        self.banned_words = frozenset(words)
        self.reload()

    def reload(self) -> None:
        """Read the model's word vectors, profile, concepts and banned words again for the next
        reply (its readers stay, and what they keep, while its build is the same)."""
        self._stale = True

    async def load(self, model: ModelInfo | None = None) -> Loaded | None:
        """The model's reader and vocabulary (mixed with the base's when there is a base),
        reloaded when a build changes (in place too); None when nothing is trained. ``model`` is its row
        when the caller has just read it. While a batch's version of the same builds loads, the
        version before answers: a reply never waits for a batch (a new build is waited for, as
        the one before is purged)."""
        names = (self.model_name, *((self.base.model_name,) if self.base is not None else ()))
        found = {} if model is not None else await self.store.models.models(names)  # one query for both
        model = model or found.get(self.model_name) or await self.model()
        base = await self.base.load(found.get(names[-1])) if self.base is not None else None
        if model.active_build is None and base is None:
            return None
        builds = (model.active_build, model.version, *(base.builds[:2] if base else ()))
        loaded = self._loaded
        if loaded is not None and not self._stale and loaded.builds == builds:
            return loaded
        if loaded is not None and self._loading.locked() and loaded.builds[::2] == builds[::2]:
            return loaded  # a batch's version of the same builds is loading: answer from the one before
        async with self._loading:  # one reload, however many replies notice the new build at once
            if self._loaded is None or self._stale or self._loaded.builds != builds:
                self._stale = False  # set again by a change while this reloads: the next reply reloads
                self._loaded = await self._reload(model, base, builds)
        return self._loaded

    async def _reload(self, model: ModelInfo, base: Loaded | None, builds: tuple) -> Loaded:
        kept = self._loaded if self._loaded is not None and self._loaded.builds == builds else None
        if kept is not None:  # the same builds: the readers keep what they read
            own, reader, vocab, frequencies = kept.own, kept.reader, kept.vocab, kept.frequencies
        else:
            own, reader, vocab, counts = await self._readers(model, base)
            frequencies = (counts, *(base.frequencies if base else ()))
        banned = frozenset(vocab.index[w] for w in self.banned_words if w in vocab.index)
        if not self._embedder_loaded:  # a sentence model takes seconds to load: once, shared with communities
            base_replier = self.base
            self._embedder = (
                base_replier._embedder
                if base_replier is not None and base_replier._embedder_loaded
                else await asyncio.to_thread(load_embedder, self.embedder_model)
            )
            self._embedder_loaded = True
        tokenize = get_tokenizer(model.tokenizer).tokenize
        searched = (model.id,) + ((base.model.id,) if base is not None else ())
        settings = await self.profiles.decode_settings(model.id, self.profile)
        tokens = sum(frequencies[0].values()) + (base.tokens if base is not None else 0)
        vectors = await load_vectors(self.pairs, model.id)
        if not vectors.words and base is not None:
            vectors = base.vectors
        ranker = Ranker(self.pairs, vectors, self._embedder, searched, tokenize, settings.prompt_weight)
        concepts = await catalog(self.concepts, model.id)
        return Loaded(
            model,
            builds,
            own,
            reader,
            vocab,
            banned,
            vectors,
            ranker,
            settings,
            searched,
            frequencies,
            concepts,
            tokens,
        )

    async def _readers(
        self, model: ModelInfo, base: Loaded | None
    ) -> tuple[ModelReader | None, Bounded | MixedReader, Vocabulary, dict[str, int]]:
        """The reader of the model's build (the kept one brought up to a batch's version when it
        can be), the reader replies draw from (mixed with the base's), its vocabulary and the
        model's word counts."""
        own = self._loaded.own if self._loaded is not None and model.active_build is not None else None
        if model.active_build is not None and (own is None or not await own.refresh(model)):  # kept: a batch changed it
            own = await ModelReader.open(self.store.models, model)
        vocab, counts = await self.store.models.vocabulary_with_counts(model) if own is not None else (Vocabulary(), {})
        reader: Bounded | MixedReader | None = Bounded(own, len(vocab)) if own is not None else None
        if base is not None:
            assert isinstance(base.reader, Bounded)  # a base has no base of its own
            key = (model.active_build, *base.builds[:2])
            if self._combined is None or self._combined[0] != key:  # else a batch: it only adds its new words
                self._combined = key, await asyncio.to_thread(CombinedVocabulary, base.vocab)  # a copy of the base's
            combined = self._combined[1]
            from_own = await asyncio.to_thread(combined.add, vocab)
            reader = MixedReader(reader, base.reader, combined, from_own, self.base_weight)
            vocab = combined.vocab
        assert reader is not None  # a model without a build has a base (load returns None otherwise)
        return own, reader, vocab, counts

    async def answer(
        self,
        conversation_id: int,
        text: str,
        recent: list[Message],
        seed: int | None,
        values: dict[str, str],
        loaded: Loaded | None,
    ) -> tuple[str | None, str, list[str]]:
        """The concept (if any), text and tokens of the answer to ``text`` after ``recent`` (the
        conversation's last SESSION_TURNS messages) from the model as :meth:`load` gave it
        (None: nothing trained)."""
        if len(text) > MAX_INPUT_CHARS:
            return (
                "refusal",
                (f"That message is too long for me: {len(text):,} characters, and I read up to {MAX_INPUT_CHARS:,}."),
                [],
            )
        if loaded is None:
            return "untrained", UNTRAINED_REPLY, []
        tokenize = get_tokenizer(loaded.model.tokenizer).tokenize
        prompt = tokenize(text)
        vocab = loaded.vocab
        overlay: dict[int, str] = {}
        biases, (concept, concept_text), responses = await asyncio.gather(  # independent reads, asked at once
            biases_for(self.conversations, loaded.model.id, conversation_id, prompt, tokenize),
            concept_span(
                self.concepts,
                loaded.concepts,
                loaded.model,
                loaded.background(prompt),
                conversation_id,
                prompt,
                lambda: self.conversations.history(conversation_id, CONVERSATION_WINDOW),
                values,
            ),
            loaded.ranker.responses(text, prompt),  # the learned answers, unless a correction or a concept answers
        )
        if concept is None and not biases and not responses and prompt and not knows_any(prompt, vocab):
            return "no_answer", UNKNOWN_WORDS_REPLY, []  # nothing to draw a reply from: say so, do not guess
        corrected = [b.span for b in biases]
        spans = [span_ids(span, tokenize, vocab, overlay) for span in corrected]
        start = span_ids(concept_text, tokenize, vocab, overlay)
        history = [BOS, *vocab.ids(prompt, grow=False), SEP]
        if concept is not None and is_whole(concept.template):
            reply, written = start, concept_text  # Level 1 has nothing to add
        else:
            cache = PointerCache(
                cache_sequences(
                    responses,
                    vocab,
                    tokenize,
                    recent,
                    spans,
                    corrected,
                    loaded.settings.cache_decay,
                )
            )
            likely = [list(s.ids[1:]) for s in cache.sequences] + spans  # replies tend to follow these
            await loaded.reader.prefetch(history + path[:i] for path in likely for i in range(len(path) + 1))
            rng = random.Random(seed)
            for _ in range(3):  # an empty reply is drawn again with the same generator
                reply = await generate(loaded.reader, history, cache, spans, start, loaded.banned, loaded.settings, rng)
                if reply:
                    break
            written = cache.verbatim(reply)  # a learned answer copied whole keeps its own spacing
        tokens = [overlay.get(i) or vocab.texts[i] for i in reply]
        if not tokens:
            return "no_answer", "I don't know what to say to that.", []
        name = concept.name if concept else "correction" if spans else None
        return name, written or detokenize(tokens), tokens


def is_whole(template: str) -> bool:
    """Whether a concept's template makes a whole reply: it ends a sentence, or ends with what
    fills it (an earlier message, a correction's answer), closing marks aside. Another (one
    ending "Here is a thought:") starts a reply that Level 1 continues."""
    end = template.rstrip().rstrip(CLOSING)
    return end.endswith(SENTENCE_ENDS) or end.endswith("}")


def knows_any(prompt: list[str], vocab: Vocabulary) -> bool:
    """Whether the model learned any of the message's words in any case (any of its tokens when
    it has no words: emoji, punctuation)."""
    words = [t for t in prompt if is_word(t)] or prompt
    return any(vocab.index.get(form, UNK) >= len(CONTROL_TOKENS) for w in words for form in (w, w.lower()))
