"""How likely a prompt calls for a concept, from counts, the way Level 1 smooths n-grams.

Each concept is a word distribution counted from its example prompts, discounted (absolute
discounting) and backed off to the model's own word distribution: the background, from the
trained word frequencies in ``vocab.freq``, Dirichlet-smoothed so a small model still knows
that most words are rare. A prompt's words are then weighed by naive Bayes against that
background ("any other prompt"):

    log odds(c | prompt) = log PRIOR_ODDS + sum over words w of log P(w | c) / P(w | background)

so a word the examples share with few other prompts ("discuss") counts for much, a word every
prompt has ("what") for little, and a word the examples never use counts against the concept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dbslm.memory.retrieval import words_of

DISCOUNT = 0.5  # subtracted from each example word's count (KenLM's fallback discount)
PRIOR_ODDS = 1e-4  # before reading it, a prompt is rarely a request for a concept
PSEUDO_COUNT = 1000.0  # the background's Dirichlet prior: this many tokens ...
PRIOR_VOCABULARY = 100_000  # ... spread evenly over a vocabulary this big


@dataclass(frozen=True)
class Background:
    """Word frequencies of the model (lower-cased words -> count) and its token total."""

    freq: dict[str, int]
    total: int

    @classmethod
    def merged(cls, found: dict[str, int], total: int) -> Background:
        """From the counts of each spelling (see :func:`spellings`), summed per lower-cased word."""
        freq: dict[str, int] = {}
        for text, count in found.items():
            freq[text.lower()] = freq.get(text.lower(), 0) + count
        return cls(freq, total)

    def probability(self, word: str) -> float:
        return (self.freq.get(word, 0) + PSEUDO_COUNT / PRIOR_VOCABULARY) / (self.total + PSEUDO_COUNT)


def spellings(prompt: list[str]) -> set[str]:
    """The prompt's tokens and its words' usual spellings (lower, capitalized, upper case)."""
    return {s for w in words_of(prompt) for s in (w, w.capitalize(), w.upper())} | set(prompt)


class ConceptModel:
    """The smoothed word distribution of one concept's example prompts."""

    def __init__(self, examples: Iterable[list[str]]) -> None:
        """``examples``: each example prompt's lower-cased words."""
        self.counts = Counter(word for words in examples for word in words)
        self.total = sum(self.counts.values())

    def probability(self, prompt: list[str], background: Background) -> float:
        """P(concept | prompt words); 0 for a concept without examples or a prompt without words."""
        if not self.total or not prompt:
            return 0.0
        kept = DISCOUNT * len(self.counts) / self.total  # the mass discounting moves to the background
        log_odds = math.log(PRIOR_ODDS)
        for word in prompt:
            p_background = background.probability(word)
            p_concept = max(self.counts[word] - DISCOUNT, 0.0) / self.total + kept * p_background
            log_odds += math.log(p_concept / p_background)
        return 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0
