"""The benches still run, at a smoke size: a change that breaks one shows in the suite, not
twenty minutes into a measurement. Their figures are not checked here (bench/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    "script, args, last_line",
    [
        ("dialog_bench.py", ["--pairs", "20"], "respond() latency"),
        (
            "load_bench.py",
            ["--users", "3", "--channels", "2", "--messages", "20", "--rate", "200", "--listen"],
            "Targets (#17):",
        ),
        ("community_bench.py", ["--messages", "3000"], "Targets (#17):"),
    ],
)
def test_a_bench_runs_at_a_smoke_size(script, args, last_line):
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith(last_line), done.stdout[-1000:]
