"""The decoder's choice against a plain restatement of its rules, on random inputs."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np

from dbslm.decoder import DecodeSettings, choose
from dbslm.distribution import Distribution
from dbslm.text.vocab import BOS, EOS, NEVER_SAMPLED, SEP


def plain_choose(
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
    """The rules word by word: the mixture, a boosted word nobody proposed at the least
    proposed share, log-space boosts and penalties, then temperature, top-k and top-p."""
    gate = settings.cache_weight * confidence if cache else 0.0
    mix: dict[int, float] = {}
    if len(words):
        p = np.power(10.0, log10p - log10p.max())
        p /= p.sum()
        mix = {int(w): (1.0 - gate) * float(x) for w, x in zip(words, p)}
    for w, x in cache.items():
        mix[w] = mix.get(w, 0.0) + gate * x
    floor = min(mix.values()) if mix else 1.0
    for w in boosts:
        mix.setdefault(w, floor)
    logits = []
    for w in sorted(mix):
        if w in banned or w in NEVER_SAMPLED or mix[w] <= 0:
            continue
        seen = 0 if w in cache else generated[w]
        logit = math.log(mix[w]) + boosts.get(w, 0.0)
        logit -= settings.presence_penalty * (seen > 0) + settings.frequency_penalty * seen
        logits.append((logit, w))
    if not logits:
        return None
    logits.sort(key=lambda x: (-x[0], x[1]))
    if settings.temperature <= 0:
        return logits[0][1]
    kept = logits[: max(1, settings.top_k)]
    weights = [math.exp((lg - kept[0][0]) / settings.temperature) for lg, _ in kept]
    cumulative, cut = 0.0, len(kept)
    for i, wt in enumerate(weights):
        cumulative += wt / sum(weights)
        if cumulative >= settings.top_p:
            cut = i + 1
            break
    return rng.choices([w for _, w in kept[:cut]], weights=weights[:cut])[0]


def test_choose_follows_the_rules_on_random_inputs() -> None:
    draw = np.random.default_rng(7)
    pool = np.arange(-2, 120)  # reply-local (negative) ids and control tokens included
    for case in range(400):
        words = draw.permutation(np.unique(draw.choice(pool[2:], draw.integers(0, 80))))
        log10p = -draw.random(len(words)) * 6
        cache = {int(w): float(draw.random()) for w in draw.choice(pool, draw.integers(0, 4))}
        boosts = {int(w): 12.0 for w in draw.choice(pool, draw.integers(0, 2))}
        generated = Counter({int(w): int(draw.integers(1, 4)) for w in draw.choice(pool, draw.integers(0, 6))})
        banned = frozenset(int(w) for w in draw.choice(pool, 3))
        settings = DecodeSettings(
            temperature=float(draw.choice([0.0, 0.5, 1.2])),
            top_k=int(draw.choice([1, 5, 40])),
            top_p=float(draw.choice([0.5, 0.95])),
        )
        for seed in range(3):
            args = (cache, 0.7, boosts, generated, banned, settings)
            chosen = choose(Distribution(words, log10p), *args, random.Random(seed))
            assert chosen == plain_choose(words, log10p, *args, random.Random(seed)), case


def test_choose_never_picks_a_banned_or_control_token() -> None:
    words = np.array([BOS, SEP, 7, 8, EOS])
    log10p = np.array([0.0, 0.0, -1.0, -0.1, -3.0])
    greedy = DecodeSettings(temperature=0.0)
    distribution = Distribution(words, log10p)
    assert choose(distribution, {}, 0.0, {}, Counter(), frozenset({8}), greedy, random.Random(0)) == 7
    assert choose(distribution, {}, 0.0, {}, Counter(), frozenset({7, 8, EOS}), greedy, random.Random(0)) is None
