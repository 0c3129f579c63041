"""The pointer cache: token sequences the reply may copy from, weighted.

Sequences are retrieved responses to similar prompts, corrected answers and recent turns of
the conversation (decayed by age). After a reply prefix, the cache proposes the tokens that
follow it in the sequences it begins (a copy so far), else those that follow its longest
suffix found in its sequences; the decoder mixes that proposal with the n-gram distribution
(the pointer-sentinel mixture).
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
        of the sequences behind them, capped at 1 ({} and 0 when nothing matches). A prefix
        that begins sequences (a reply copying them so far) is continued where it stands in
        them, so a copy does not jump to another place its last tokens recur (code repeats
        lines); otherwise its longest suffix (up to MAX_MATCH tokens) is looked up anywhere."""
        start = tuple(prefix)
        copied = [s for s in self.sequences if len(s.ids) > len(start) and s.ids[: len(start)] == start]
        if copied:
            return _normalized([(s.ids[len(start)], s.weight) for s in copied])
        for length in range(min(MAX_MATCH, len(prefix)), 0, -1):
            suffix = tuple(prefix[-length:])
            found = [
                (s.ids[end], s.weight)
                for s in self.sequences
                for end in range(length, len(s.ids))
                if s.ids[end - length : end] == suffix
            ]
            if found:
                return _normalized(found)
        return {}, 0.0


def _normalized(found: list[tuple[int, float]]) -> tuple[dict[int, float], float]:
    """The proposal of (next token, weight) matches, and its confidence (their weight, capped at 1)."""
    mass: dict[int, float] = {}
    for word, weight in found:
        mass[word] = mass.get(word, 0.0) + weight
    total = sum(mass.values())
    return {w: m / total for w, m in sorted(mass.items())}, min(1.0, total)
