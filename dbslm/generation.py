"""Drawing a reply token by token: the model's candidates, the pointer cache's proposal and
the correction spans, through the decoder, until ``</s>`` or the length cap."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from dbslm.decoder import DecodeSettings, choose
from dbslm.distribution import Distribution
from dbslm.memory.cache import PointerCache
from dbslm.text.vocab import CONTROL_TOKENS, EOS, SEP, UNK, Vocabulary

BIAS_STRENGTH = 12.0  # natural-log boost of a correction's next token
COPYING = 0.5  # cache confidence (weight behind its proposal) that counts as copying


class Candidates(Protocol):
    async def candidates(self, history: list[int]) -> Distribution: ...


async def generate(
    reader: Candidates,
    history: list[int],
    cache: PointerCache,
    spans: list[list[int]],
    start: list[int],
    banned: frozenset[int],
    settings: DecodeSettings,
    rng: random.Random,
) -> list[int]:
    """The reply's token ids after ``history`` (``<s> prompt <sep>``), continuing ``start``:
    up to the profile's ``max_tokens``, and beyond (to ``copy_tokens``) only while it copies
    a learned answer the cache is confident of, so such an answer is not cut mid-line."""
    reply = list(start)
    generated: Counter = Counter(reply)
    while len(reply) < max(settings.max_tokens, settings.copy_tokens):
        proposal, confidence = cache.proposal([SEP, *reply])
        past_cap = len(reply) >= settings.max_tokens
        if past_cap and confidence < COPYING:
            break
        distribution = await reader.candidates(history + reply)
        word = choose(distribution, proposal, confidence, span_boosts(spans, reply), generated, banned, settings, rng)
        if word is None or word == EOS or (past_cap and word not in proposal):
            break
        reply.append(word)
        generated[word] += 1
    return reply


def span_ids(span: str, tokenize: Callable[[str], list[str]], vocab: Vocabulary, overlay: dict[int, str]) -> list[int]:
    """The ids of a span to emit; a token the model does not know gets a reply-local
    (negative) id, its text kept in ``overlay``."""
    ids = []
    for token in tokenize(span):
        i = vocab.index.get(token, UNK)
        if i < len(CONTROL_TOKENS):  # unknown to the model (or a control spelling): a reply-local id
            i = -1 - len(overlay)
            overlay[i] = token
        ids.append(i)
    return ids


def span_boosts(spans: list[list[int]], reply: list[int]) -> dict[int, float]:
    """The next token of each bias span the reply is following (``</s>`` once it is whole)."""
    boosts: dict[int, float] = {}
    for span in spans:
        if reply == span[: len(reply)]:
            nxt = span[len(reply)] if len(reply) < len(span) else EOS
            boosts[nxt] = max(boosts.get(nxt, 0.0), BIAS_STRENGTH)
    return boosts
