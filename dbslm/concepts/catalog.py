"""The default concepts, and choosing the concept (if any) that a prompt calls for.

Adding a concept is a row in ``concepts`` (examples, a template, a threshold) and, where the
template has placeholders, a payload function in :mod:`dbslm.concepts.payloads`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from dbslm.concepts.classifier import Background, ConceptModel
from dbslm.domain import Concept
from dbslm.memory.retrieval import words_of

ACKNOWLEDGE = "Thanks! From now on I will answer {question} with: {answer}"
DEFAULTS = (
    Concept(
        "summary",
        [
            "what did we discuss",
            "what have we talked about",
            "what were we talking about",
            "summarize our conversation",
            "summarise our chat so far",
            "what was our conversation about",
            "give me a recap of our chat",
            "a summary of what we said",
            "remind me what we talked about",
            "what topics did we cover so far",
            "where were we in our chat",
            "sum up our discussion",
            "the things we have been discussing",
            "a recap of what was said so far",
            "tell me what we covered",
        ],
        "We talked about {topics}.",
        "topics",
        0.75,
    ),
    Concept(
        "recall",
        [
            "what did i ask you",
            "what did i just say",
            "what was my question",
            "remind me what i asked",
            "what did i say before",
            "repeat what i said",
            "what did i tell you a moment ago",
            "what was the last thing i said",
            "what were my words a minute ago",
            "what was my question again",
            "repeat my last message",
        ],
        "You said: \u201c{said}\u201d",
        "said",
        0.75,
    ),
    Concept("acknowledge", [], ACKNOWLEDGE, "answer", 1.1),
)


def choose_concept(
    concepts: list[Concept], prompt: list[str], background: Background, tokenize: Callable[[str], list[str]]
) -> Concept | None:
    """The concept the prompt most likely calls for, if that probability reaches the
    concept's threshold (a threshold above 1: only a signal fires it)."""
    words = words_of(prompt)
    best, best_p = None, 0.0
    for concept in concepts:
        p = _counted(tuple(concept.examples), tokenize).probability(words, background)
        if p >= concept.threshold and p > best_p:
            best, best_p = concept, p
    return best


@lru_cache(maxsize=256)
def _counted(examples: tuple[str, ...], tokenize: Callable[[str], list[str]]) -> ConceptModel:
    """A concept's counted examples (the same for every reply until they change)."""
    return ConceptModel(words_of(tokenize(e)) for e in examples)
