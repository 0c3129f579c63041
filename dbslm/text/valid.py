"""Text that every table can hold: checked once, where it enters (files, chat messages), and
bounded where it is kept.

Python strings may hold lone surrogates (a JSON ``"\\ud800"`` escape makes one), which no
UTF-8 database column stores; a file with one is refused, naming where, and a chat message
gets U+FFFD in its place, so that the same text is accepted on SQLite and MariaDB.
"""

from __future__ import annotations

import re

from dbslm.errors import DbslmError

SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
MAX_INPUT_CHARS = 4000  # the longest message the bot reads; a longer one is refused, and logged cut short


def repaired(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD."""
    return SURROGATE.sub(REPLACEMENT, text)


def checked(text: str, where: str) -> str:
    """``text`` itself, or a one-line refusal naming ``where`` when it holds a lone surrogate."""
    found = SURROGATE.search(text)
    if found:
        raise DbslmError(
            f"{where}: the text holds a lone surrogate (\\u{ord(found.group()):04x}), which is not "
            "valid Unicode; fix the file's escapes"
        )
    return text


def bounded(text: str) -> str:
    """``text`` as a log keeps it: at most MAX_INPUT_CHARS characters and a count of the rest
    (no later reply pays for reading a refused over-long message)."""
    if len(text) <= MAX_INPUT_CHARS:
        return text
    return f"{text[:MAX_INPUT_CHARS]} […{len(text) - MAX_INPUT_CHARS:,} more characters not kept]"
