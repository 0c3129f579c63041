"""The values the layers hand each other: a model, a conversation and its messages,
corrections and biases, a concept, a channel's settings and the messages heard in it. They
belong to no table and no backend."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum

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


@dataclass(frozen=True)
class ChannelState:
    """A channel's listening switch, reply chance and history backfill cursor."""

    listening: bool = False
    chance: float = 0.0  # the share of unprompted messages answered, 0..1
    backfill_cursor: str | None = None  # where a history backfill stopped


class Status(str, Enum):
    """Where a channel message is in its model's learning (see :mod:`dbslm.listening`)."""

    QUEUED = "queued"  # waiting for its batch
    LEARNED = "learned"  # in the serving model
    FORGETTING = "forgetting"  # in the serving model; deleted on its platform: subtracted with the next batch
    UNPAIRING = "unpairing"  # in the serving model after a prompt that was taken away: subtracted with the
    # next batch and queued again on its own (or after the prompt's new text)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ChannelMessage:
    """A message heard in a listened channel, as its model learns it: its text without
    mentions, after the message it answers (its prompt), if any."""

    message_key: str  # the platform's message, e.g. discord:<guild>:<channel>:<message id>
    user_id: str
    channel_key: str
    text: str
    status: Status = Status.QUEUED
    prompt_key: str | None = None  # the message it answers, learned before it as its prompt
    prompt_user: str | None = None
    prompt: str | None = None

    def answering(self, prompt: ChannelMessage | None) -> ChannelMessage:
        """This message learned after ``prompt`` (or without a prompt)."""
        if prompt is None and self.prompt_key is None:
            return self  # most messages: no copy (dataclasses.replace costs microseconds a message)
        return replace(
            self,
            prompt_key=prompt and prompt.message_key,
            prompt_user=prompt and prompt.user_id,
            prompt=prompt and prompt.text,
        )

    @property
    def pair(self) -> tuple[str | None, str]:
        """What the model learns of it: its prompt (None when it has none) and its text."""
        return self.prompt, self.text
