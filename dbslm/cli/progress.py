"""Training progress: a bar redrawn in place on a terminal, plain log lines anywhere else.

The bar shows the share of the input rows done, the tokens trained, their rate and an ETA
(from the rows still to go). Messages and results are printed above it, so it never tears
a line of output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24
CLEAR_LINE = "\r\033[K"


def clock_text(seconds: float) -> str:
    """``seconds`` as ``m:ss`` or ``h:mm:ss``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Progress of one training run over ``total`` input rows (text lines and dialog rows)."""

    def __init__(self, total: int, *, interactive: bool | None = None, err: TextIO | None = None,
                 out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self.interactive = self.err.isatty() if interactive is None else interactive
        self.total = max(total, 1)
        self.clock = clock
        self.started = clock()
        self.rows = 0
        self.tokens = 0
        self.note = ""
        self._shown = False

    def advance(self, rows: int, tokens: int) -> None:
        """Count ``rows`` more input rows done and ``tokens`` more tokens trained."""
        self.rows += rows
        self.tokens += tokens
        self.note = ""
        if self.interactive:
            self._draw()
        else:
            print(self.status(), file=self.err, flush=True)

    def stage(self, text: str) -> None:
        """A training stage starts (the listener of :func:`dbslm.training.train`)."""
        if self.interactive:
            self.note = text
            self._draw()
        else:
            print(f"{text} ...", file=self.err, flush=True)

    def log(self, text: str) -> None:
        """A message for the person watching (standard error)."""
        self._print(text, self.err)

    def echo(self, text: str) -> None:
        """A line of results (standard output)."""
        self._print(text, self.out)

    def close(self) -> None:
        """End the bar's line."""
        if self._shown:
            print(file=self.err, flush=True)
            self._shown = False

    def status(self) -> str:
        """Rows done, tokens, rate and ETA in one line."""
        elapsed = max(self.clock() - self.started, 1e-9)
        share = min(self.rows / self.total, 1.0)
        eta = clock_text(elapsed * (1 - share) / share) if share else "?"
        return (f"{share:4.0%} {self.rows:,}/{self.total:,} rows, {self.tokens:,} tokens, "
                f"{self.tokens / elapsed:,.0f} tokens/s, ETA {eta}")

    def _draw(self) -> None:
        filled = round(BAR_WIDTH * min(self.rows / self.total, 1.0))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        note = f" | {self.note} ..." if self.note else ""
        self.err.write(f"{CLEAR_LINE}[{bar}] {self.status()}{note}")
        self.err.flush()
        self._shown = True

    def _print(self, text: str, stream: TextIO) -> None:
        if self._shown:
            self.err.write(CLEAR_LINE)
            self.err.flush()
        print(text, file=stream, flush=True)
        if self._shown:
            self._draw()
