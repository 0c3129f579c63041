"""The code's shape: small modules, and the linter's rules (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOST_LINES = 400


def test_no_module_is_over_the_size_a_reader_takes_in():
    sizes = {path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
             for folder in ("dbslm", "bot", "adapters", "bench", "tests") for path in (ROOT / folder).rglob("*.py")}
    assert {str(path): lines for path, lines in sizes.items() if lines > MOST_LINES} == {}


def test_the_code_passes_the_linter():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
