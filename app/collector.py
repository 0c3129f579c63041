"""The garbage collector of a serving process, set once it has started."""

from __future__ import annotations

import gc

YOUNG_PASS = 20_000  # allocations (net) between the collector's young passes; Python's default is 700


def settle() -> None:
    """Leave what the process has loaded (modules, the model's vocabulary, its readers) out of
    the collector's passes, and run young passes less often: under load, full passes over the
    caches of a warm model stalled every reply for 20-90 ms (bench/RESULTS.md)."""
    gc.freeze()
    gc.set_threshold(YOUNG_PASS, 10, 10)
