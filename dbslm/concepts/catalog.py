"""The default concepts, and choosing the concept (if any) that a prompt calls for.

Adding a concept is a row in ``concepts`` (examples, a template, a threshold) and, where the
template has placeholders, a payload function in :mod:`dbslm.concepts.payloads`.
"""

from __future__ import annotations

from dbslm.memory.retrieval import similarity
from dbslm.store.level3 import Concept

DEFAULTS = (
    Concept("summary",
            ["what did we discuss", "what have we talked about", "what were we talking about",
             "summarize our conversation", "summarise our chat so far", "what was our conversation about"],
            "We talked about {topics}.", "topics", 0.75),
    Concept("acknowledge", [], "Thanks! From now on I will answer that with: {answer}", "answer", 1.1),
)


def choose_concept(concepts: list[Concept], prompt: list[str], signal: str | None) -> Concept | None:
    """The signalled concept, else the one whose example is most like the prompt, if close enough."""
    by_name = {c.name: c for c in concepts}
    if signal is not None:
        return by_name.get(signal)
    best, best_score = None, 0.0
    for concept in concepts:
        score = max((similarity(example.split(), prompt) for example in concept.examples), default=0.0)
        if score >= concept.threshold and score > best_score:
            best, best_score = concept, score
    return best
