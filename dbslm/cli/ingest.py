"""The input of ``dbslm train`` as sources and chunks.

A first pass (:func:`scan`) reads the text files and streams every dialog file through
once, so a malformed row anywhere refuses the whole run before anything is trained; dialog
rows are not kept. The second pass (:func:`chunks`) streams each dialog file again in
chunks of rows, holding out a share of every chunk for evaluation, and tells how many bytes
of the input it has read (for the progress bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from dbslm.text.corpus import DEFAULT_MAX_LINE_CHARS, read_lines
from dbslm.text.dialogs import DIALOG_SUFFIXES, Pair, stream_pairs


@dataclass(frozen=True)
class Reading:
    """How the input is read and cut."""

    encoding: str = "utf-8"
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS
    max_rows: int | None = None  # dialog rows used per file (--max-json-lines)
    chunk_rows: int | None = None  # dialog rows per chunk (--json-chunk-size); None: the whole file
    held_out_percent: float = 0.0  # share of every dialog chunk kept for evaluation


@dataclass
class Source:
    """One input: a text file's lines, or a dialog file (streamed, only its rows counted)."""

    path: Path
    rows: int
    size: int  # bytes
    lines: list[str] | None = None
    seconds: float = 0.0  # spent reading it in the first pass


@dataclass
class Chunk:
    """Rows ``first`` .. ``first + rows - 1`` of a source: text lines, or dialog pairs to
    train and pairs held out for evaluation."""

    path: Path
    first: int
    rows: int
    whole: bool  # all of the source
    last: bool  # the source's last chunk
    lines: list[str] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    held_out: list[Pair] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The source, and which of its rows unless the chunk is all of it."""
        if self.whole:
            return str(self.path)
        return f"{self.path} rows {self.first:,}-{self.first + self.rows - 1:,}"


def is_dialog(path: Path) -> bool:
    return path.suffix.lower() in DIALOG_SUFFIXES


def scan(path: Path, reading: Reading) -> Source:
    """First pass over one file: a text file's lines, or a dialog file's row count (every row
    up to the cap parsed and checked, none kept)."""
    started, size = time.perf_counter(), path.stat().st_size
    if is_dialog(path):
        rows = sum(1 for _ in stream_pairs(path, reading.encoding, reading.max_line_chars, reading.max_rows))
        return Source(path, rows, size, None, time.perf_counter() - started)
    lines = read_lines(path, reading.encoding, reading.max_line_chars)
    return Source(path, len(lines), size, lines, time.perf_counter() - started)


def chunks(source: Source, reading: Reading, on_read: Callable[[int], None]) -> Iterator[Chunk]:
    """Second pass: a text source as one chunk; a dialog file streamed in chunks of
    ``reading.chunk_rows`` rows (at least one chunk, empty for an empty file). ``on_read``
    hears the bytes read as they are (a text source's all at once: it was read by :func:`scan`),
    every byte of the source (those past --max-json-lines too) by the time its last chunk comes."""
    if source.lines is not None:
        on_read(source.size)
        yield Chunk(source.path, 1, len(source.lines), True, True, lines=source.lines)
        return
    heard = 0

    def hear(nbytes: int) -> None:
        nonlocal heard
        heard += nbytes
        on_read(nbytes)

    rows = stream_pairs(source.path, reading.encoding, reading.max_line_chars, reading.max_rows, hear)
    first = 1
    while True:
        batch = list(islice(rows, reading.chunk_rows))
        trained, held = hold_out(batch, reading.held_out_percent)
        last = not batch or first + len(batch) > source.rows
        if last:
            on_read(source.size - heard)  # the bytes not heard yet: the last rows', any after the last row used
        yield Chunk(source.path, first, len(batch), len(batch) == source.rows, last, pairs=trained, held_out=held)
        if last:
            return
        first += len(batch)


def hold_out(rows: list[Pair], percent: float) -> tuple[list[Pair], list[Pair]]:
    """``rows`` split into those to train and ``percent`` % of them (rounded), spread evenly
    and ending with the last row, to hold out."""
    held = round(len(rows) * percent / 100)
    picked = {(k + 1) * len(rows) // held - 1 for k in range(held)}
    return [r for i, r in enumerate(rows) if i not in picked], [rows[i] for i in sorted(picked)]
