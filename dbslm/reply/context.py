"""What a reply is likely to copy: the corrections in force for its prompt and the sequences
of its pointer cache."""

from __future__ import annotations

from collections.abc import Callable

from dbslm.domain import Bias, Message
from dbslm.memory.cache import CachedSequence
from dbslm.memory.retrieval import plain_words, similarity
from dbslm.store.conversations import ConversationStore
from dbslm.text.vocab import EOS, SEP, Vocabulary

SESSION_WEIGHT = 0.05  # the cache weight of the user's last turn; older ones decay
BIAS_MATCH = 0.8  # the hashed-vector cosine at which a rephrased question gets its correction


async def biases_for(
    conversations: ConversationStore,
    model_id: int,
    conversation_id: int,
    prompt: list[str],
    tokenize: Callable[[str], list[str]],
) -> list[Bias]:
    """The newest correction in force whose question is this prompt or a rephrasing of it
    (the same words once contractions are spelled out, or hashed vectors this close)."""
    biases = await conversations.biases(model_id, conversation_id)
    key = plain_words(prompt)
    chosen = [
        b
        for b in biases
        if sorted(plain_words(tokenize(b.prompt))) == sorted(key)
        or similarity(plain_words(tokenize(b.prompt)), key) >= BIAS_MATCH
    ]
    return chosen[-1:]


def cache_sequences(
    responses: list[tuple[str, float]],
    vocab: Vocabulary,
    tokenize: Callable[[str], list[str]],
    recent: list[Message],
    spans: list[list[int]],
    span_texts: list[str],
    decay: float,
) -> list[CachedSequence]:
    """A correction in force for this prompt (it is the answer; ``spans`` and the texts they
    were tokenized from), else the learned ``responses`` that answer it best (with their
    weights); and the user's ``recent`` turns, each older one's weight times ``decay``."""
    if spans:
        sequences = [CachedSequence((SEP, *span, EOS), 1.0, written) for span, written in zip(spans, span_texts)]
    else:
        sequences = [
            CachedSequence((SEP, *vocab.ids(tokenize(response), grow=False), EOS), weight, response)
            for response, weight in responses
        ]
    user_turns = [m for m in reversed(recent) if m.role == "user"]
    for age, message in enumerate(user_turns):  # the session: words the user has been using
        weight = SESSION_WEIGHT * decay**age
        sequences.append(
            CachedSequence((SEP, *vocab.ids(tokenize(message.text), grow=False), EOS), weight, message.text)
        )
    return sequences
