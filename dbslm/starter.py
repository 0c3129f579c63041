"""The starter corpus: chatterbot-corpus's English conversations, installed from PyPI.

A fresh install trains its first model on it, so the bot is not mute before its users
have taught it anything.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dbslm.errors import DbslmError


def starter_conversations(language: str = "english") -> list[list[str]]:
    """The corpus's conversations (lists of lines), in a fixed file order."""
    try:
        import chatterbot_corpus
    except ImportError:
        raise DbslmError("the starter corpus is missing: pip install chatterbot-corpus") from None
    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    conversations: list[list[str]] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in data.get("conversations") or []:
            lines = [str(line).strip() for line in conversation if isinstance(line, (str, int, float))]
            if lines:
                conversations.append(lines)
    if not conversations:
        raise DbslmError(f"the starter corpus has no {language} conversations in {folder}")
    return conversations


def starter_pairs(language: str = "english") -> list[tuple[str, str]]:
    """Prompt/response pairs: each line of a conversation and the line that answers it."""
    return [pair for lines in starter_conversations(language) for pair in zip(lines, lines[1:])]
