"""Choosing the next token: n-gram candidates mixed with the pointer cache, then biases,
penalties and bans in log space, then temperature, top-k and top-p. Deterministic for a given
random generator; never picks a control token other than ``</s>``."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

import numpy as np

from dbslm.text.vocab import NEVER_SAMPLED


@dataclass(frozen=True)
class DecodeSettings:
    """One decode profile (a row of ``decode_profiles``)."""

    temperature: float = 0.5
    top_k: int = 40
    top_p: float = 0.95
    cache_weight: float = 0.9
    cache_decay: float = 0.7
    presence_penalty: float = 0.2
    frequency_penalty: float = 0.3
    max_tokens: int = 40  # the length cap of a reply ...
    copy_tokens: int = 200  # ... except while it copies a learned answer: then up to this many
    prompt_weight: float = 0.1  # how much a learned response's prompt matching counts in its rank (fit per model)


def choose(words: np.ndarray, log10p: np.ndarray, cache: dict[int, float], confidence: float,
           boosts: dict[int, float], generated: Counter, banned: frozenset[int], settings: DecodeSettings,
           rng: random.Random) -> int | None:
    """The next token id, or None when no candidate is left.

    The cache's share of the mixture is the profile's ``cache_weight`` times its
    ``confidence`` (how much weight of sequences stands behind its proposal)."""
    gate = settings.cache_weight * confidence if cache else 0.0
    mix: dict[int, float] = {}
    if len(words):
        p = np.power(10.0, log10p - log10p.max())
        p /= p.sum()
        mix = {int(w): (1.0 - gate) * float(x) for w, x in zip(words.tolist(), p.tolist())}
    for w, x in cache.items():
        mix[w] = mix.get(w, 0.0) + gate * x
    floor = min(mix.values()) if mix else 1.0
    for w in boosts:
        mix.setdefault(w, floor)
    logits = []
    for w in sorted(mix):
        if w in banned or w in NEVER_SAMPLED or mix[w] <= 0:
            continue
        seen = 0 if w in cache else generated[w]  # a learned answer may repeat its words
        logit = math.log(mix[w]) + boosts.get(w, 0.0)
        logit -= settings.presence_penalty * (seen > 0) + settings.frequency_penalty * seen
        logits.append((logit, w))
    if not logits:
        return None
    return _sample(logits, settings, rng)


def _sample(logits: list[tuple[float, int]], settings: DecodeSettings, rng: random.Random) -> int:
    logits.sort(key=lambda x: (-x[0], x[1]))
    if settings.temperature <= 0:
        return logits[0][1]
    kept = logits[:max(1, settings.top_k)]
    top = kept[0][0]
    weights = [math.exp((lg - top) / settings.temperature) for lg, _ in kept]
    total = sum(weights)
    cumulative, cut = 0.0, len(kept)
    for i, wt in enumerate(weights):
        cumulative += wt / total
        if cumulative >= settings.top_p:
            cut = i + 1
            break
    return rng.choices([w for _, w in kept[:cut]], weights=weights[:cut])[0]
