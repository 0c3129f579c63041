"""Reading chatterbot-style YAML conversations as prompt/response pairs: each line answers the
one before it. Aliases are refused; errors name the file and line."""

from __future__ import annotations

from pathlib import Path

import yaml

from dbslm.errors import DbslmError
from dbslm.text.valid import checked

Pair = tuple[str, str]


class _Refused(Exception):
    """A YAML construct this reader refuses, at a line."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


class _PlainLoader(yaml.SafeLoader):
    """The safe loader without aliases: a ``*name`` may repeat a large node many times over
    (a few kilobytes of aliases can expand to gigabytes), and conversations need none."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise _Refused(self.peek_event().start_mark.line + 1, "YAML aliases (*name) are not supported here")
        return super().compose_node(parent, index)


def yaml_pairs(text: str, path: Path) -> list[Pair]:
    """The pairs of the YAML conversations in ``text`` (the file ``path``)."""
    try:
        data = yaml.load(text, Loader=_PlainLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise DbslmError(f"{path}{line}: malformed YAML") from None
    except _Refused as exc:
        raise DbslmError(f"{path}:{exc.line}: {exc.reason}") from None
    except RecursionError:
        raise DbslmError(f"{path}: malformed YAML (nested deeper than Python can read)") from None
    conversations = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(conversations, list):
        raise DbslmError(f"{path}: expected a 'conversations:' list of conversations (lists of lines)")
    pairs = []
    for number, conversation in enumerate(conversations, 1):
        if isinstance(conversation, list):
            lines = [
                checked(str(x).strip(), f"{path}: conversation {number}")
                for x in conversation
                if isinstance(x, (str, int, float))
            ]
            pairs += zip(lines, lines[1:])
    return pairs
