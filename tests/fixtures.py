"""The shared fixtures, a pytest plugin (registered in the root conftest.py, so that every test
folder gets them): the parity corpus, fresh database paths, a CLI runner, a trained engine and
a port for the bot's own HTTP server."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbslm.cli import main
from tests.helpers import KJV, CliResult, fresh_mariadb, split_pairs

# Below the ports Linux hands to a server bound to port 0 (32768-60999), which the fake
# platforms' servers are: the bot's port can never be one of theirs.
BOT_PORTS = range(20_000, 32_000)


@pytest.fixture
def bot_port() -> int:
    """A free loopback port for the bot's own HTTP server (Slack's events, the operations
    endpoints), from outside the range the fake platforms' servers get theirs from."""
    for port in random.sample(BOT_PORTS, 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # another program's
                continue
        return port
    raise RuntimeError("no free loopback port for the bot")


@pytest.fixture
def kjv() -> Path:
    return KJV


@pytest.fixture
def reference() -> dict:
    return json.loads((KJV / "reference.json").read_text())


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    with fresh_mariadb() as url:
        yield url


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


@pytest.fixture(scope="session")
def trained_dialogs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file trained on nine tenths of the starter dialogs, once per run (tests get copies)."""
    from dbslm.engine import DBSLMEngine

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
