"""Shared fixtures: the parity corpus, fresh database paths and a CLI runner."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from dbslm.cli import main
from dbslm.store.mariadb import parse_url

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


MARIADB_URL = os.environ.get("DBSLM_TEST_MARIADB_URL", "")
REQUIRE_MARIADB = os.environ.get("DBSLM_REQUIRE_MARIADB") == "1"


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    with fresh_mariadb() as url:
        yield url


@contextmanager
def fresh_mariadb() -> Iterator[str]:
    """Create an empty MariaDB database and drop it afterwards (skip or fail if unavailable)."""
    if not MARIADB_URL:
        if REQUIRE_MARIADB:
            pytest.fail("DBSLM_REQUIRE_MARIADB=1 but DBSLM_TEST_MARIADB_URL is not set")
        pytest.skip("set DBSLM_TEST_MARIADB_URL to run the MariaDB tests")
    target = parse_url(MARIADB_URL)
    name = f"dbslm_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = pymysql.connect(host=target.host, port=target.port, user=target.user,
                                password=target.password, autocommit=True)
    except pymysql.Error as exc:
        if REQUIRE_MARIADB:
            pytest.fail(f"MariaDB is required but unreachable: {exc}")
        pytest.skip(f"MariaDB unreachable: {exc}")
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield MARIADB_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(params=["sqlite", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database to use, once per backend."""
    if request.param == "sqlite":
        return str(tmp_path / "model.sqlite3")
    return request.getfixturevalue("mariadb_url")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``dbslm`` in this process; returns exit code and captured output."""
    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)
    return run


def table_rows(db: str, sql: str) -> list[tuple]:
    """Rows of a query, read with the plain drivers (sqlite3, PyMySQL) outside dbslm."""
    if db.startswith("mariadb://"):
        t = parse_url(db)
        conn = pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password, database=t.database,
                               autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(row) for row in cur.fetchall()]
        finally:
            conn.close()
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def execute(db: str, sql: str) -> None:
    """Run one statement outside dbslm, as a user with an SQL shell would."""
    table_rows(db, sql)


def is_sqlite(db: str) -> bool:
    return not db.startswith("mariadb://")


@pytest.fixture(scope="session")
def trained_dialogs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file trained on nine tenths of the starter dialogs, once per run (tests get copies)."""
    from dbslm.engine import DBSLMEngine
    from tests.test_engine import split_pairs

    path = tmp_path_factory.mktemp("trained") / "dialogs.sqlite3"

    async def train() -> None:
        engine = await DBSLMEngine.open(str(path))
        await engine.train_dialog(split_pairs()[0])
        await engine.close()  # the last connection to close folds the write-ahead log into the file

    asyncio.run(train())
    return path


@pytest.fixture
async def dialog_engine(tmp_path: Path, trained_dialogs: Path):
    """An engine on a fresh SQLite file, trained on nine tenths of the starter dialogs."""
    from dbslm.engine import DBSLMEngine

    for suffix in ("", "-wal"):  # a copy of the trained file, as a run of `dbslm train` leaves it
        if Path(f"{trained_dialogs}{suffix}").exists():
            shutil.copyfile(f"{trained_dialogs}{suffix}", tmp_path / f"dialogs.sqlite3{suffix}")
    engine = await DBSLMEngine.open(str(tmp_path / "dialogs.sqlite3"))
    yield engine
    await engine.close()


def owners_of(db: str, word: str) -> set[str]:
    """The models (by name) that own a row, in any table of per-model rows, whose text
    columns contain ``word``."""
    from dbslm.store.schema import TABLES

    names = dict(table_rows(db, "SELECT id, name FROM models"))
    selects = []
    for table in TABLES:
        texts = [c for c, kind in table.columns if kind.rstrip("?") in ("text", "name", "ref", "token")]
        if "model_id" in table.column_names and texts:
            joined = " || ' ' || ".join(f"COALESCE({c}, '')" for c in texts)
            selects.append(f"SELECT model_id FROM {table.name} WHERE {joined} LIKE '%{word}%'")
    return {names[model] for (model,) in table_rows(db, " UNION ".join(selects))}
