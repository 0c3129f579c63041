"""Payload functions: what fills a concept template's placeholders.

Each takes the conversation's messages (oldest first) and the call's keyword values, and
returns the placeholder values, or None when the concept has nothing to say.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dbslm.domain import Message
from dbslm.metrics import words

MIN_TOPIC_LETTERS = 4
COMMON = frozenset(  # words of any conversation, and chat's replies ("good", "cool"): no topic
    "that this what with have about your from they there would could should which when "
    "where will just like know think were been tell them then than does did "
    "good great nice cool okay yeah sure really thanks thank hello haha very much well".split()
)


def topics(messages: list[Message], **_: str) -> dict[str, str] | None:
    """The user's three most frequent content words in the conversation."""
    counts = Counter(
        w
        for m in messages
        if m.role == "user"
        for w in words(m.text)
        if len(w) >= MIN_TOPIC_LETTERS and w not in COMMON
    )
    top = [w for w, _ in counts.most_common(3)]
    if not top:
        return None
    return {"topics": top[0] if len(top) == 1 else ", ".join(top[:-1]) + " and " + top[-1]}


def said(messages: list[Message], **_: str) -> dict[str, str] | None:
    """The user's last message before this one that was not itself a question about the
    conversation (those are answered by a memory concept)."""
    for i in range(len(messages) - 1, -1, -1):
        answered = messages[i + 1].concept if i + 1 < len(messages) else None
        if messages[i].role == "user" and answered not in ("summary", "recall") and messages[i].text.strip():
            return {"said": messages[i].text.strip()}
    return None


def answer(messages: list[Message], **values: str) -> dict[str, str] | None:
    """A correction's answer, and the question it answers (quoted; "that" when unknown)."""
    if not values.get("answer"):
        return None
    question = values.get("question", "")
    return {"answer": values["answer"], "question": f"\u201c{question}\u201d" if question else "that"}


PAYLOADS: dict[str, Callable[..., dict[str, str] | None]] = {"topics": topics, "said": said, "answer": answer}
