"""What a model's pairs say about words, recounted whenever its pairs change and written in
the same switch: the word vectors replies are ranked with, and the reply words each prompt
word calls for (a table to read with SQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dbslm.decoder import DecodeSettings
from dbslm.memory.retrieval import words_of
from dbslm.reply.fitting import fit_prompt_weight
from dbslm.reply.ranking import Ranker
from dbslm.reply.reply_words import NO_REPLY_WORDS, ReplyWords, count_reply_words
from dbslm.reply.vectors import EMPTY, WordVectors, count_vectors
from dbslm.store.database import Transaction
from dbslm.store.pairs import PairStore
from dbslm.store.profiles import ProfileStore

MAX_PAIRS = 200_000  # the newest pairs the association is counted from: time and memory stay bounded
Tokens = list[str]


@dataclass(frozen=True)
class Association:
    """A model's word vectors and reply words, counted from the same pairs."""

    vectors: WordVectors
    reply_words: ReplyWords


NOTHING = Association(EMPTY, NO_REPLY_WORDS)  # of a model without pairs


async def association_after(
    stored: PairStore,
    model_id: int | None,
    tokenize: Callable[[str], list[str]],
    added: Sequence[tuple[Tokens, Tokens]] = (),
    removed_ids: Collection[int] = (),
    removed_keys: Collection[str] = (),
    replacing: bool = False,
) -> Association:
    """The association of the newest :data:`MAX_PAIRS` pairs a model will hold once a switch
    adds ``added`` (token lists, in insertion order) and deletes the pairs of ``removed_ids``
    and of the channel messages ``removed_keys`` (or, ``replacing``, every pair it had): counted
    (in a worker thread) before the switch, so that they go live with the pairs they follow."""
    kept = (
        []
        if model_id is None or replacing
        else await stored.pair_texts(model_id, max(0, MAX_PAIRS - len(added)) + len(removed_ids) + len(removed_keys))
    )

    def count() -> Association:
        pairs = [(words_of(p), words_of(r)) for p, r in reversed(added[-MAX_PAIRS:])]
        pairs += [
            (words_of(tokenize(p)), words_of(tokenize(r)))
            for pair_id, p, r, key in kept
            if pair_id not in removed_ids and key not in removed_keys
        ]
        newest = pairs[:MAX_PAIRS]
        return Association(count_vectors(newest), count_reply_words(newest))

    return await asyncio.to_thread(count)


async def write_association(tx: Transaction, model_id: int, association: Association) -> None:
    """Inside ``tx`` (the switch to the build with the pairs it was counted from): replace a
    model's word vectors and reply words."""
    vectors, reply = association.vectors, association.reply_words
    await PairStore.write_word_vectors(
        tx, model_id, vectors.words, vectors.weights.tolist(), [row.tobytes() for row in vectors.matrix]
    )
    await PairStore.write_reply_words(
        tx, model_id, reply.words, reply.reply_words, reply.scores.tolist(), reply.pairs.tolist()
    )


async def refresh_vectors(
    stored: PairStore, model_id: int, tokenize: Callable[[str], list[str]], fit: bool = True
) -> int:
    """Recount the association of a model from the pairs it holds now, replace the stored
    one and (with ``fit``) fit its prompt weight; returns how many words have a vector."""
    association = await association_after(stored, model_id, tokenize)
    async with stored.db.transaction() as tx:
        await write_association(tx, model_id, association)
    if fit:
        await fit_weight(stored, model_id, association.vectors, tokenize)
    return len(association.vectors.words)


async def fit_weight(
    stored: PairStore, model_id: int, vectors: WordVectors, tokenize: Callable[[str], list[str]]
) -> None:
    """Fit the model's profiles' ``prompt_weight`` to its pairs, ranked with ``vectors``."""
    pairs = [(pair_id, p, r) for pair_id, p, r, _ in await stored.pair_texts(model_id, MAX_PAIRS)]
    defaults = asdict(DecodeSettings())
    ranker = Ranker(stored, vectors, None, (model_id,), tokenize, defaults["prompt_weight"])
    weight = await fit_prompt_weight(ranker, pairs)
    if weight is not None:
        await ProfileStore(stored.db).set_fitted(model_id, "prompt_weight", weight, defaults)


async def load_vectors(stored: PairStore, model_id: int) -> WordVectors:
    """A model's stored word vectors (:data:`EMPTY` when it has none)."""
    rows = await stored.word_vectors(model_id)
    if not rows:
        return EMPTY
    matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return WordVectors([r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32), matrix)
