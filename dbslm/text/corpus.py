"""Reading training and test text: files and folders to lines, with clear errors.

A text is one sentence per line (KenLM's convention). Anything that is not plain text in the
chosen encoding is refused with a message naming the file and, where it helps, the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dbslm.errors import DbslmError

TEXT_SUFFIXES = (".txt",)
DIALOG_SUFFIXES = (".json", ".ndjson", ".jsonl", ".yml", ".yaml")  # read by dbslm.text.dialogs
DEFAULT_MAX_LINE_CHARS = 1_000_000


def find_files(inputs: Iterable[str], recursive: bool = False, suffixes: tuple[str, ...] = TEXT_SUFFIXES) -> list[Path]:
    """The files named by ``inputs``: files, or folders searched for files with ``suffixes``."""
    files: list[Path] = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                hint = "" if recursive else " (--recursive searches subfolders)"
                raise DbslmError(f"{path}: no {'/'.join(suffixes)} files in this folder{hint}")
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise DbslmError(f"{path}: not a regular file")
        else:
            raise DbslmError(f"{path}: no such file or folder")
    return files


def read_lines(path: Path, encoding: str = "utf-8", max_line_chars: int = DEFAULT_MAX_LINE_CHARS) -> list[str]:
    """The lines of a text file, refusing binary data, bad bytes and over-long lines."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DbslmError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_lines(data, str(path), encoding, max_line_chars)


def decode_lines(
    data: bytes, source: str, encoding: str = "utf-8", max_line_chars: int = DEFAULT_MAX_LINE_CHARS
) -> list[str]:
    """Lines of ``data`` (named ``source`` in errors); see :func:`read_lines`."""
    if b"\x00" in data and not encoding.lower().replace("-", "").startswith("utf16"):
        raise DbslmError(f"{source}: looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode(encoding)
    except LookupError:
        raise DbslmError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DbslmError(
            f"{source}:{line}: byte 0x{data[exc.start]:02x} is not valid {encoding} (is --encoding right?)"
        ) from None
    lines = text.removesuffix("\n").split("\n") if text else []  # a final newline ends the last line
    longest = max(range(len(lines)), key=lambda i: len(lines[i]), default=None)
    if longest is not None and len(lines[longest]) > max_line_chars:
        raise DbslmError(
            f"{source}:{longest + 1}: line has {len(lines[longest]):,} characters, more than "
            f"the limit of {max_line_chars:,}; text is one sentence per line"
        )
    return [line.rstrip("\r") for line in lines]
