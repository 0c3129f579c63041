"""What a reply is likely to copy: the sequences of its pointer cache."""

from __future__ import annotations

from collections.abc import Callable

from dbslm.memory.cache import CachedSequence
from dbslm.reply.ranking import Ranker
from dbslm.store.level2 import Message
from dbslm.text.vocab import EOS, SEP, Vocabulary

SESSION_WEIGHT = 0.05  # the cache weight of the user's last turn; older ones decay


async def cache_sequences(ranker: Ranker, vocab: Vocabulary, tokenize: Callable[[str], list[str]], text: str,
                          prompt: list[str], recent: list[Message], spans: list[list[int]],
                          decay: float) -> list[CachedSequence]:
    """A correction in force for this prompt (it is the answer), else the learned responses
    that answer it best; and the user's ``recent`` turns, each older one's weight times ``decay``."""
    if spans:
        sequences = [CachedSequence((SEP, *span, EOS), 1.0) for span in spans]
    else:
        sequences = [CachedSequence((SEP, *vocab.ids(tokenize(response), grow=False), EOS), weight)
                     for response, weight in await ranker.responses(text, prompt)]
    user_turns = [m for m in reversed(recent) if m.role == "user"]
    for age, message in enumerate(user_turns):  # the session: words the user has been using
        weight = SESSION_WEIGHT * decay ** age
        sequences.append(CachedSequence((SEP, *vocab.ids(tokenize(message.text), grow=False), EOS), weight))
    return sequences
