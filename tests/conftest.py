"""Shared fixtures: the parity corpus, fresh database paths and a CLI runner."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbslm.cli import main

DATA = Path(__file__).parent / "data"
KJV = DATA / "kjv-pentateuch"


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def kjv() -> Path:
    return KJV


@pytest.fixture
def reference() -> dict:
    return json.loads((KJV / "reference.json").read_text())


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "model.sqlite3")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``dbslm`` in this process; returns exit code and captured output."""
    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return run


def table_rows(path: str, sql: str) -> list[tuple]:
    """Rows of a query on a SQLite file, read with the standard library."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()
