"""Ingest profiling for ``dbslm train --profile-ingest``: latency and resident set size."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")


def rss_mib() -> float | None:
    """The process's resident set size now (Linux's VmRSS), or None where it cannot be read."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mib() -> float:
    """The most resident memory the process has used (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def profile_line(label: str, seconds: float, rows: int, tokens: int) -> str:
    """One profile line for an input (or a build), with the memory figures at this moment."""
    now = rss_mib()
    memory = f"rss {now:,.1f} MiB, " if now is not None else ""
    return (
        f"profile {label}: {seconds:.3f} s, {rows:,} rows, {tokens:,} tokens, "
        f"{memory}peak rss {peak_rss_mib():,.1f} MiB"
    )
