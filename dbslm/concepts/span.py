"""The concept a reply calls for, and the text it emits (Level 3, before Level 1 continues)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dbslm.concepts.catalog import DEFAULTS, choose_concept
from dbslm.concepts.classifier import Background
from dbslm.concepts.payloads import PAYLOADS
from dbslm.domain import Concept, Message, ModelInfo
from dbslm.store.concepts import SHARED_MODEL_ID, ConceptStore
from dbslm.text.tokenize import get_tokenizer


async def catalog(concepts: ConceptStore, model_id: int) -> list[Concept]:
    """The model's concepts, the defaults it lacks added first (a default a later version
    added, or every one the first time)."""
    known = await concepts.concepts(model_id)
    missing = [c for c in DEFAULTS if c.name not in {k.name for k in known}]
    for concept in missing:
        await concepts.add_concept(SHARED_MODEL_ID, concept)
    return known + missing


async def concept_span(
    concepts: ConceptStore,
    known: list[Concept],
    model: ModelInfo,
    background: Background,
    conversation_id: int,
    prompt: list[str],
    conversation: Callable[[], Awaitable[list[Message]]],
    values: dict[str, str],
) -> tuple[Concept | None, str]:
    """The concept this reply calls for (a signal, or a prompt the examples of one of the
    ``known`` concepts make likely) and the text it emits; (None, "") when none applies or its
    payload has nothing to say. ``background``: how often the models answering saw the
    prompt's words; ``conversation`` reads the conversation's messages, for a payload that
    needs them."""
    signal = await concepts.take_signal(conversation_id)
    if signal is not None:
        concept = next((c for c in known if c.name == signal), None)
    else:
        concept = choose_concept(known, prompt, background, get_tokenizer(model.tokenizer).tokenize)
    if concept is None:
        return None, ""
    payload = PAYLOADS.get(concept.payload)
    filled = payload(await conversation(), **values) if payload is not None else {}
    if filled is None:
        return None, ""
    return concept, concept.template.format(**filled)
