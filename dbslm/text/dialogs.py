"""Reading prompt/response pairs: NDJSON or JSON rows, and chatterbot-style YAML conversations.

JSON rows need string ``prompt`` and ``response`` fields (other fields, such as ``emotion``,
are ignored). In a YAML conversation each line answers the one before it. Errors name the
file and, for NDJSON, the line.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from dbslm.errors import DbslmError
from dbslm.text.corpus import DIALOG_SUFFIXES, decode_lines

__all__ = ["DIALOG_SUFFIXES", "parse_pairs", "read_pairs"]
Pair = tuple[str, str]


def read_pairs(path: Path, encoding: str = "utf-8", max_line_chars: int = 1_000_000) -> list[Pair]:
    """The prompt/response pairs of a dialog file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DbslmError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_pairs(data, path, encoding, max_line_chars)


def parse_pairs(data: bytes, path: Path, encoding: str = "utf-8", max_line_chars: int = 1_000_000) -> list[Pair]:
    """The prompt/response pairs in ``data``, a dialog file named ``path`` (its suffix says which kind)."""
    lines = decode_lines(data, str(path), encoding, max_line_chars)
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return [_row(_json(line, f"{path}:{number}"), f"{path}:{number}")
                for number, line in enumerate(lines, 1) if line.strip()]
    if suffix == ".json":
        rows = _json("\n".join(lines), str(path))
        if isinstance(rows, dict):
            rows = rows.get("pairs", rows.get("data"))
        if not isinstance(rows, list):
            raise DbslmError(f"{path}: expected a list of {{\"prompt\": ..., \"response\": ...}} rows")
        return [_row(row, f"{path}: row {i}") for i, row in enumerate(rows, 1)]
    return _yaml_pairs("\n".join(lines), path)


def _json(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DbslmError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None


def _row(row: object, where: str) -> Pair:
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
        raise DbslmError(f"{where}: a row needs string \"prompt\" and \"response\" fields")
    return row["prompt"], row["response"]


def _yaml_pairs(text: str, path: Path) -> list[Pair]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise DbslmError(f"{path}{line}: malformed YAML") from None
    conversations = data.get("conversations") if isinstance(data, dict) else None
    if not isinstance(conversations, list):
        raise DbslmError(f"{path}: expected a 'conversations:' list of conversations (lists of lines)")
    pairs = []
    for conversation in conversations:
        if isinstance(conversation, list):
            lines = [str(x).strip() for x in conversation if isinstance(x, (str, int, float))]
            pairs += zip(lines, lines[1:])
    return pairs
