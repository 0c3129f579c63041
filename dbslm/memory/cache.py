"""The pointer cache: token sequences the reply may copy from, weighted.

Sequences are retrieved responses to similar prompts, corrected answers and recent turns of
the conversation (decayed by age). After a reply prefix, the cache proposes the tokens that
follow the longest suffix of the prefix found in its sequences; the decoder mixes that
proposal with the n-gram distribution (the pointer-sentinel mixture).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MATCH = 8


@dataclass(frozen=True)
class CachedSequence:
    ids: tuple[int, ...]  # starts with <sep>, ends with </s>
    weight: float
    text: str | None = None  # what the ids were tokenized from (a learned answer as it was written)


class PointerCache:
    def __init__(self, sequences: list[CachedSequence]) -> None:
        self.sequences = [s for s in sequences if s.weight > 0 and len(s.ids) > 1]

    def verbatim(self, reply: list[int]) -> str | None:
        """The text of a sequence that ``reply`` copies whole, as it was written: tokens lose
        their spacing (```` ``` ````, ``and/or``), a copied answer need not."""
        copied = tuple(reply)
        return next((s.text for s in self.sequences if s.text is not None and s.ids[1:-1] == copied), None)

    def proposal(self, prefix: list[int]) -> tuple[dict[int, float], float]:
        """Next-token probabilities after ``prefix``, and the cache's confidence: the weight
        of the sequences behind them, capped at 1 ({} and 0 when nothing matches)."""
        for length in range(min(MAX_MATCH, len(prefix)), 0, -1):
            suffix = tuple(prefix[-length:])
            mass: dict[int, float] = {}
            for seq in self.sequences:
                ids = seq.ids
                for end in range(length, len(ids)):
                    if ids[end - length : end] == suffix:
                        mass[ids[end]] = mass.get(ids[end], 0.0) + seq.weight
            if mass:
                total = sum(mass.values())
                return {w: m / total for w, m in sorted(mass.items())}, min(1.0, total)
        return {}, 0.0
