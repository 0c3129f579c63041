"""The values the layers hand each other: a model, a conversation and its messages,
corrections and biases, a concept. They belong to no table and no backend."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

COUNTS, PROBABILITIES = "counts", "probabilities"  # the forms of a build (see builds.form)


@dataclass(frozen=True)
class ModelInfo:
    """A model's identity and settings, and the build it currently serves."""

    id: int | None  # None until the model's first build is written
    name: str
    order: int
    tokenizer: str
    active_build: int | None = None
    source: str | None = None  # how the active build was made: "text" or "arpa"
    form: str | None = None  # how it stores the model: COUNTS or PROBABILITIES
    version: int = 0  # how many batches changed the build in place

    @property
    def counted(self) -> bool:
        """Whether the active build is in count form (probabilities computed as they are read)."""
        return self.form == COUNTS


@dataclass(frozen=True)
class Conversation:
    id: int
    model_id: int
    user_id: str
    agent: str
    channel_key: str | None


@dataclass(frozen=True)
class Message:
    id: int
    role: str
    user_id: str
    text: str
    concept: str | None
    created_at: float


@dataclass(frozen=True)
class LogEntry:
    """A message to log: who wrote it, when (the default: now), and the concept a reply used."""

    role: str
    user_id: str
    text: str
    concept: str | None = None
    created_at: float = field(default_factory=time.time)

    def values(self) -> tuple[str, str, str, str | None, float]:
        return self.role, self.user_id, self.text, self.concept, self.created_at


@dataclass(frozen=True)
class Correction:
    id: int
    user_id: str
    prompt: str  # the message the corrected reply answered
    corrected: str
    scope: str  # 'conversation' until an admin approves ('global') or rejects ('rejected') it


@dataclass(frozen=True)
class Bias:
    id: int
    conversation_id: int | None
    prompt: str
    span: str
    strength: float


@dataclass(frozen=True)
class Concept:
    name: str
    examples: list[str]  # prompts that call for it
    template: str  # text with {payload} placeholders
    payload: str | None  # the function that fills the placeholders
    threshold: float  # P(concept | prompt) that fires it; above 1 only a signal does
