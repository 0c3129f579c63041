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


def choose(
    words: np.ndarray,
    log10p: np.ndarray,
    cache: dict[int, float],
    confidence: float,
    boosts: dict[int, float],
    generated: Counter,
    banned: frozenset[int],
    settings: DecodeSettings,
    rng: random.Random,
) -> int | None:
    """The next token id, or None when no candidate is left.

    The cache's share of the mixture is the profile's ``cache_weight`` times its
    ``confidence`` (how much weight of sequences stands behind its proposal)."""
    gate = settings.cache_weight * confidence if cache else 0.0
    ids, mix = words.astype(np.int64, copy=False), np.zeros(len(words))
    if len(words):
        p = np.power(10.0, log10p - log10p.max())
        mix = (1.0 - gate) * (p / p.sum())
    at: dict[int, int] = {}  # where the words the cache, the boosts and the penalties touch are
    if len(words) and (cache or boosts or generated):
        touched = np.array([*cache, *boosts, *generated], dtype=np.int64)
        rows, columns = np.nonzero(ids[:, None] == touched)
        at = dict(zip(touched[columns].tolist(), rows.tolist()))
    extra = [w for w in dict.fromkeys((*cache, *boosts)) if w not in at]  # proposed by the cache alone, boosted
    if extra:
        at.update((w, len(ids) + i) for i, w in enumerate(extra))
        ids, mix = np.concatenate((ids, np.array(extra, np.int64))), np.concatenate((mix, np.zeros(len(extra))))
    for w, x in cache.items():
        mix[at[w]] += gate * x
    proposed = len(words) + sum(w in cache for w in extra)
    for w in boosts:  # a boosted word nobody proposed starts from the least proposed share
        if at[w] >= proposed:
            mix[at[w]] = mix[:proposed].min() if proposed else 1.0
    with np.errstate(divide="ignore"):
        logits = np.log(mix)
    logits[mix <= 0] = -np.inf
    for w, boost in boosts.items():
        logits[at[w]] += boost
    for w, seen in generated.items():  # a learned answer may repeat its words: the cache's go unpenalized
        if w in at and w not in cache:
            logits[at[w]] -= settings.presence_penalty * (seen > 0) + settings.frequency_penalty * seen
    kept: list[tuple[float, int]] = []
    order = np.lexsort((ids, -logits))  # best first, ties by id
    for logit, w in zip(logits[order].tolist(), ids[order].tolist()):
        if logit == -np.inf or len(kept) == max(1, settings.top_k):
            break
        if w not in banned and w not in NEVER_SAMPLED:
            kept.append((logit, w))
    if not kept:
        return None
    return _sample(kept, settings, rng)


def _sample(kept: list[tuple[float, int]], settings: DecodeSettings, rng: random.Random) -> int:
    """One of the ``kept`` (logit, id), best first: temperature, then top-p."""
    if settings.temperature <= 0:
        return kept[0][1]
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
