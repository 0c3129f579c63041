"""Training progress: a tqdm bar over the bytes of input read on a terminal, plain log lines elsewhere.

On a terminal the bar's description is the stage under way and its postfix the tokens trained
and their rate; messages and results are printed above it (``tqdm.write``), so it never tears a
line of output. When standard error is not a terminal, each stage of a build and each build is
one line.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm


class Progress:
    """Progress of one training run over ``total`` bytes of input."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bytes = 0  # of input read
        self.tokens = 0  # trained
        self.started = time.monotonic()
        self.bar = _bar(total) if sys.stderr.isatty() else None

    def read(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes of input read (called from the reading thread)."""
        self.bytes += nbytes
        if self.bar is not None:
            self.bar.update(nbytes)

    def built(self, tokens: int) -> None:
        """A build went live with ``tokens`` more tokens trained."""
        self.tokens += tokens
        trained = f"{self.tokens:,} tokens, {self.tokens / max(time.monotonic() - self.started, 1e-9):,.0f} tokens/s"
        if self.bar is None:
            print(f"{self.bytes:,}/{self.total:,} bytes read, {trained}", file=sys.stderr, flush=True)
        else:
            self.bar.set_postfix_str(trained)

    def reading(self, name: str) -> None:
        """Input ``name`` is being read: the bar says so (no line elsewhere, so that the error of an
        input refused is the only line on standard error)."""
        if self.bar is not None:
            self.bar.set_description_str(f"reading {name}")

    def stage(self, text: str) -> None:
        """A stage starts (the listener of :func:`dbslm.training.builds.train`)."""
        if self.bar is None:
            print(f"{text} ...", file=sys.stderr, flush=True)
        else:
            self.bar.set_description_str(text)

    def log(self, text: str) -> None:
        """A message for the person watching (standard error)."""
        self._print(text, sys.stderr)

    def echo(self, text: str) -> None:
        """A line of results (standard output)."""
        self._print(text, sys.stdout)

    def close(self) -> None:
        """Leave the bar as it ended, on a line of its own."""
        if self.bar is not None:
            self.bar.close()

    def _print(self, text: str, stream: TextIO) -> None:
        if self.bar is None:
            print(text, file=stream, flush=True)
        else:
            self.bar.write(text, file=stream)
            stream.flush()


def _bar(total: int) -> tqdm:
    """The bar over ``total`` bytes (tqdm is imported only for a terminal)."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc="reading", unit="B", unit_scale=True, unit_divisor=1024, dynamic_ncols=True, file=sys.stderr
    )
