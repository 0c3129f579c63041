"""The code's shape: small modules, imports that run one way, and the linter's rules
(configured in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOST_LINES = 400
PACKAGES = ("dbslm", "bot", "adapters", "app")


def test_no_module_is_over_the_size_a_reader_takes_in():
    sizes = {
        path.relative_to(ROOT): len(path.read_text(encoding="utf-8").splitlines())
        for folder in ("dbslm", "bot", "adapters", "bench", "tests")
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {str(path): lines for path, lines in sizes.items() if lines > MOST_LINES} == {}


def room(module: str) -> str:
    """The node of the import graph that ``module`` belongs to: its subpackage (``dbslm.store``,
    ``adapters.discord``), else the module itself (``dbslm.engine``, ``bot.core``)."""
    parts = module.split(".")
    if len(parts) > 1 and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def imports() -> dict[str, set[str]]:
    """For each node, the nodes its modules import (the project's own, at any depth of the code).
    The tests beside an adapter (adapters/*/tests) are no part of it: they may drive it from app."""
    graph: dict[str, set[str]] = {}
    for folder in PACKAGES:
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found = graph.setdefault(room(module), set())
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level
                    else []
                )
                found |= {room(n) for n in names if n.split(".")[0] in PACKAGES and _exists(n)} - {room(module)}
    return graph


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.is_dir() or path.with_suffix(".py").exists()


def test_packages_import_each_other_one_way_only():
    graph = imports()
    cycles = set()
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for following in graph.get(node, ()):
                if following == start:
                    cycles.add(" -> ".join((*path, start)))
                elif following not in seen:
                    seen.add(following)
                    stack.append((following, (*path, following)))
    assert cycles == set()
    assert not any(
        n.startswith(("bot", "adapters", "app"))
        for n in set().union(*(graph[n] for n in graph if n.startswith("dbslm")))
    )


def test_the_store_reads_no_settings():
    for path in (ROOT / "dbslm" / "store").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not any(s in text for s in ("os.environ", "getenv", "dbslm.config", "load_dotenv")), path


def test_the_code_passes_the_linter_and_is_formatted():
    for check in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--quiet", "--no-cache", str(ROOT)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
