"""The starter corpus: chatterbot-corpus's English conversations, installed from PyPI.

A fresh install trains its first model on it, so the bot is not mute before its users
have taught it anything.
"""

from __future__ import annotations

from pathlib import Path

from dbslm.errors import DbslmError
from dbslm.text.dialogs import read_pairs


def starter_pairs(language: str = "english") -> list[tuple[str, str]]:
    """Prompt/response pairs: each line of a conversation and the line that answers it."""
    try:
        import chatterbot_corpus
    except ImportError:
        raise DbslmError("the starter corpus is missing: pip install chatterbot-corpus") from None
    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    pairs = [pair for path in sorted(folder.glob("*.yml")) for pair in read_pairs(path)]
    if not pairs:
        raise DbslmError(f"the starter corpus has no {language} conversations in {folder}")
    return pairs
