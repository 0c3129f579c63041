"""Running a command and measuring it: wall time, peak RSS, and when its stages began."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path


def run_measured(cmd: list[str], stdin: Path | None = None) -> tuple[float, int, dict[str, float]]:
    """Wall seconds, peak RSS in MB and the start (seconds) of each stage the command printed
    on stderr (its progress lines)."""
    started = time.perf_counter()
    with open(stdin or os.devnull, "rb") as inp:
        proc = subprocess.Popen(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stages = {}
        for line in proc.stderr:
            stages[line.strip().rstrip(" .")] = time.perf_counter() - started
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed with status {status}")
    return wall, usage.ru_maxrss // 1024, stages


def machine_line(title: str) -> str:
    """The heading of a results section: what, when, on what."""
    return (
        f"### {title}: {date.today()} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores, Python {platform.python_version()})"
    )


def publish(lines: list[str], record: bool) -> None:
    """Print a results section and, with ``record``, append it to bench/RESULTS.md."""
    report = "\n".join(lines) + "\n"
    print(report)
    if record:
        with open(Path(__file__).parent / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write("\n" + report)


def bench_main(
    doc: str,
    options: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace, Path], Awaitable[list[str]]],
) -> None:
    """A benchmark's command line: its ``options`` plus ``--record``; ``run`` gets the parsed
    arguments and a temporary folder and returns the results section."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    options(parser)
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        publish(asyncio.run(run(args, Path(tmp))), args.record)
