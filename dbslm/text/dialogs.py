"""Reading prompt/response pairs: NDJSON or JSON rows, and chatterbot-style YAML conversations.

JSON rows need string ``prompt`` and ``response`` fields (other fields, such as ``emotion``,
are ignored). In a YAML conversation each line answers the one before it. Errors name the
file and, for NDJSON, the line.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from dbslm.errors import DbslmError
from dbslm.text.corpus import DIALOG_SUFFIXES, decode_lines
from dbslm.text.valid import checked

__all__ = ["DIALOG_SUFFIXES", "STREAMED_SUFFIXES", "parse_pairs", "read_pairs", "stream_pairs"]
Pair = tuple[str, str]


class DialogPair(tuple):
    """A prompt and its response (it unpacks as the two), with the row's other fields, such as
    an ``emotion``, kept as ``meta``."""

    meta: dict[str, object]

    def __new__(cls, prompt: str, response: str, meta: dict[str, object] | None = None) -> DialogPair:
        pair = super().__new__(cls, (prompt, response))
        pair.meta = meta or {}
        return pair


STREAMED_SUFFIXES = (".ndjson", ".jsonl")  # one row a line: read a line at a time
READ_BYTES = 1 << 16  # the most bytes read at once from a streamed file
MAX_DIGITS = 100  # the longest JSON integer read (Python refuses those past 4,300 digits, slowly)


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
    if suffix in STREAMED_SUFFIXES:
        return [
            _row(_json(line, f"{path}:{number}"), f"{path}:{number}")
            for number, line in enumerate(lines, 1)
            if line.strip()
        ]
    if suffix == ".json":
        rows = _json("\n".join(lines), str(path))
        if isinstance(rows, dict):
            rows = rows.get("pairs", rows.get("data"))
        if not isinstance(rows, list):
            raise DbslmError(f'{path}: expected a list of {{"prompt": ..., "response": ...}} rows')
        return [_row(row, f"{path}: row {i}") for i, row in enumerate(rows, 1)]
    from dbslm.text.yaml_dialogs import yaml_pairs  # PyYAML is a tenth of a command's imports: only YAML needs it

    return yaml_pairs("\n".join(lines), path)


def stream_pairs(
    path: Path,
    encoding: str = "utf-8",
    max_line_chars: int = 1_000_000,
    limit: int | None = None,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[Pair]:
    """The first ``limit`` (default: all) prompt/response pairs of a dialog file, one at a time.

    NDJSON/JSONL files are read a line at a time, so memory stays flat whatever their size and
    nothing after the ``limit``-th row is read; ``on_read`` hears the bytes read as the reading
    goes, ``READ_BYTES`` or more at a time and the rest at the end of the file. Whole-document
    formats (.json, .yml) are parsed at once by :func:`read_pairs` (``on_read`` hears nothing).
    The refusals are those of :func:`read_pairs`.
    """
    if path.suffix.lower() not in STREAMED_SUFFIXES:
        yield from read_pairs(path, encoding, max_line_chars)[:limit]
        return
    rows = 0
    for number, line in enumerate(_stream_lines(path, encoding, max_line_chars, on_read or _unheard), 1):
        if line.strip():
            yield _row(_json(line, f"{path}:{number}"), f"{path}:{number}")
            rows += 1
            if rows == limit:
                return


def _unheard(nbytes: int) -> None:
    """The default ``on_read`` of :func:`stream_pairs`: nobody counts."""


def _stream_lines(path: Path, encoding: str, max_line_chars: int, on_read: Callable[[int], None]) -> Iterator[str]:
    """The lines of a file read piece by piece, refusing NUL bytes, bad bytes and over-long
    lines with the file and line named; ``on_read`` hears the bytes read (see :func:`stream_pairs`)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise DbslmError(f"unknown encoding {encoding!r}") from None
    nul_is_text = encoding.lower().replace("-", "").startswith("utf16")
    number, pending, unheard = 1, "", 0
    try:
        with path.open("rb") as stream:
            for piece in iter(lambda: stream.readline(READ_BYTES), b""):
                unheard += len(piece)
                if unheard >= READ_BYTES:
                    on_read(unheard)
                    unheard = 0
                if b"\x00" in piece and not nul_is_text:
                    raise DbslmError(f"{path}: looks like a binary file (it contains NUL bytes), not text")
                try:
                    *lines, pending = (pending + decoder.decode(piece)).split("\n")
                except UnicodeDecodeError as exc:
                    raise DbslmError(
                        f"{path}:{number}: byte 0x{exc.object[exc.start]:02x} is not valid "
                        f"{encoding} (is --encoding right?)"
                    ) from None
                for line in lines:
                    if len(line) > max_line_chars:
                        raise _too_long(path, number, max_line_chars)
                    yield line.rstrip("\r")
                    number += 1
                if len(pending) > max_line_chars:
                    raise _too_long(path, number, max_line_chars)
            on_read(unheard)
            yield pending + decoder.decode(b"", final=True)
    except OSError as exc:
        raise DbslmError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _too_long(path: Path, number: int, max_line_chars: int) -> DbslmError:
    return DbslmError(
        f"{path}:{number}: line is longer than the limit of {max_line_chars:,} characters; "
        "a dialog file has one row a line"
    )


def _json(text: str, where: str) -> object:
    try:
        return json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise DbslmError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise DbslmError(f"{where}: malformed JSON (nested deeper than Python can read)") from None
    except _TooLong:
        raise DbslmError(f"{where}: malformed JSON (a number of more than {MAX_DIGITS} digits)") from None


class _TooLong(Exception):
    """A JSON integer too long to be a count or an id (reading it would take quadratic time)."""


def _integer(digits: str) -> int:
    if len(digits) > MAX_DIGITS:
        raise _TooLong
    return int(digits)


def _row(row: object, where: str) -> Pair:
    if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not isinstance(row.get("response"), str):
        raise DbslmError(f'{where}: a row needs string "prompt" and "response" fields')
    return DialogPair(
        checked(row["prompt"], where),
        checked(row["response"], where),
        {k: v for k, v in row.items() if k not in ("prompt", "response")},
    )
