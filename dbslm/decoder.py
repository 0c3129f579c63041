"""Choosing the next token: n-gram candidates mixed with the pointer cache, then biases,
penalties and bans in log space, then temperature, top-k and top-p. Deterministic for a given
random generator; never picks a control token other than ``</s>``."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from dbslm.distribution import Distribution
from dbslm.text.vocab import NEVER_SAMPLED

NEVER = frozenset(NEVER_SAMPLED)


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
    distribution: Distribution,
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
    ``confidence`` (how much weight of sequences stands behind its proposal). The words the
    cache, the boosts and the penalties touch are scored one by one; the rest keep the
    distribution's ranking, so only the best of them are scored."""
    gate = settings.cache_weight * confidence if cache else 0.0
    keep = 1.0 - gate  # the distribution's share of the mixture
    ranking = distribution.ranking()
    ids, shares, place = ranking.ids, ranking.shares, ranking.place
    mix = {w: keep * shares[place[w]] for w in (*generated, *boosts) if w in place}
    for w, x in cache.items():
        mix[w] = (keep * shares[place[w]] if w in place else 0.0) + gate * x
    unproposed = [w for w in boosts if w not in mix]  # a boosted word nobody proposed ...
    if unproposed:  # ... starts from the least proposed share
        last = next((w for w in reversed(ids) if w not in cache), None)
        proposed = [mix[w] for w in cache] + ([keep * shares[place[last]]] if last is not None else [])
        floor = min(proposed) if proposed else 1.0
        mix.update((w, floor) for w in unproposed)
    scored: list[tuple[float, int]] = []  # (-logit, id): sorted, best first and ties by id
    for w, m in mix.items():
        if w in banned or w in NEVER or m <= 0:
            continue
        seen = 0 if w in cache else generated[w]
        logit = math.log(m) + boosts.get(w, 0.0)
        scored.append((settings.presence_penalty * (seen > 0) + settings.frequency_penalty * seen - logit, w))
    top_k = max(1, settings.top_k)
    if keep > 0:
        offset, skipped, untouched = -math.log(keep), mix.keys() | banned | NEVER, 0
        for w, cost in zip(ids, ranking.costs):  # best first: past top_k of them (and their ties) none can be kept
            if w in skipped:
                continue
            if cost == math.inf:
                break
            worse = offset + cost
            if untouched >= top_k and worse > scored[-1][0]:
                break
            scored.append((worse, w))
            untouched += 1
    if not scored:
        return None
    scored.sort()
    return _sample(scored[:top_k], settings, rng)


def _sample(kept: list[tuple[float, int]], settings: DecodeSettings, rng: random.Random) -> int:
    """One of the ``kept`` (-logit, id), best first: temperature, then top-p."""
    if settings.temperature <= 0:
        return kept[0][1]
    best = kept[0][0]
    weights = [math.exp((best - worse) / settings.temperature) for worse, _ in kept]
    total = sum(weights)
    cumulative, cut = 0.0, len(kept)
    for i, wt in enumerate(weights):
        cumulative += wt / total
        if cumulative >= settings.top_p:
            cut = i + 1
            break
    return rng.choices([w for _, w in kept[:cut]], weights=weights[:cut])[0]
