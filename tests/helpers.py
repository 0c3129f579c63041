"""What the tests share besides fixtures (those are in tests/fixtures.py): the training data,
reading a database outside dbslm, comparing models, refused commands, the bot settings of the
community tests, and waiting for what the bot does in the background."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pymysql
import pytest

from bot.settings import BotSettings
from dbslm.ngram import hashing
from dbslm.ngram.tables import parent_rows
from dbslm.starter import starter_pairs
from dbslm.store import Store
from dbslm.store.dialect import index_name
from dbslm.store.mariadb import parse_url
from dbslm.store.schema import ADDED, INDEXED, TABLES

T = TypeVar("T")
Table = dict[tuple[str, ...], tuple]

KJV = Path(__file__).parent / "data" / "kjv-pentateuch"
LINES = [line.split() for line in (KJV / "train.txt").read_text().splitlines()[:240]]
TEST_TEXT = [line.split() for line in (KJV / "test.txt").read_text().splitlines()[:60]]
MARIADB_URL = os.environ.get("DBSLM_TEST_MARIADB_URL", "")
REQUIRE_MARIADB = os.environ.get("DBSLM_REQUIRE_MARIADB") == "1"
# the community tests' bot: no admins, no rate limits to speak of, small batches learned quickly
SETTINGS = BotSettings(
    admins=frozenset(),
    user_rate=10_000,
    channel_rate=10_000,
    rate_window=60,
    max_upload_mb=1,
    listen_batch=4,
    listen_seconds=0.05,
    chance_seed=7,
)


@dataclass
class CliResult:
    """What a run of ``dbslm`` in this process returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


def split_pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The starter dialogs' pairs: nine tenths to train on, and the tenth held out."""
    pairs = starter_pairs()
    return [p for i, p in enumerate(pairs) if i % 10], [p for i, p in enumerate(pairs) if i % 10 == 0]


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
        admin = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=target.password, autocommit=True
        )
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


def table_rows(db: str, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    """Rows of a query (its values bound to its ``?`` marks), read with the plain drivers
    (sqlite3, PyMySQL) outside dbslm."""
    if db.startswith("mariadb://"):
        t = parse_url(db)
        conn = pymysql.connect(
            host=t.host, port=t.port, user=t.user, password=t.password, database=t.database, autocommit=True
        )
        try:
            with conn.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), tuple(params) or None)
                return [tuple(row) for row in cur.fetchall()]
        finally:
            conn.close()
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


def execute(db: str, sql: str, params: Sequence[object] = ()) -> None:
    """Run one statement (its values bound to its ``?`` marks) outside dbslm, as a user with an
    SQL shell would."""
    table_rows(db, sql, params)


def is_sqlite(db: str) -> bool:
    return not db.startswith("mariadb://")


def owners_of(db: str, word: str) -> set[str]:
    """The models (by name) that own a row, in any table of per-model rows, whose text
    columns contain ``word``."""
    names = dict(table_rows(db, "SELECT id, name FROM models"))
    selects = []
    for table in TABLES:
        texts = [c for c, kind in table.columns if kind.rstrip("?") in ("text", "name", "ref", "token")]
        if "model_id" in table.column_names and texts:
            found = " OR ".join(f"{c} LIKE '%{word}%'" for c in texts)  # MariaDB's || is OR, not a join
            selects.append(f"SELECT model_id FROM {table.name} WHERE {found}")
    return {names[model] for (model,) in table_rows(db, " UNION ".join(selects))}


def vocabulary(db: str, model: str) -> dict[str, int]:
    """The words of the model named ``model`` (no control tokens) and their frequencies."""
    return dict(
        table_rows(
            db,
            "SELECT v.text, v.freq FROM vocab v JOIN models m ON m.id = v.model_id "
            f"WHERE m.name = '{model}' AND v.control = 0",
        )
    )


def undo_version_8(db: str) -> None:
    """Write the trained builds as version 7 stored them (probabilities where counts were), as
    far as the conversion reads them: the count form's columns and table are taken away."""
    execute(db, "UPDATE ngrams SET logp = -1.5, q = 7")  # version 8 reads only the counts of these
    for table, column in ADDED[8]:
        execute(db, f"ALTER TABLE {table} DROP COLUMN {column}")
    execute(db, "DROP TABLE contexts")
    execute(db, "UPDATE meta SET value = '7' WHERE name = 'schema_version'")


def undo_version_10(db: str) -> None:
    """Store the learning queue as version 9 did: keyed by model and message key, without ids."""
    if is_sqlite(db):
        columns = "model_id, message_key, user_id, channel_key, text, status, created_at, seq"
        execute(
            db,
            "CREATE TABLE learned_v9 (model_id INTEGER NOT NULL, message_key TEXT NOT NULL, user_id TEXT NOT NULL, "
            "channel_key TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL, "
            "seq INTEGER, PRIMARY KEY (model_id, message_key)) WITHOUT ROWID",
        )
        execute(db, f"INSERT INTO learned_v9 ({columns}) SELECT {columns} FROM learned")
        execute(db, "DROP TABLE learned")
        execute(db, "ALTER TABLE learned_v9 RENAME TO learned")
        for columns in (("model_id", "status"), ("user_id",), ("model_id", "seq")):
            execute(db, f"CREATE INDEX {index_name('learned', columns)} ON learned ({', '.join(columns)})")
    else:
        execute(db, "ALTER TABLE learned DROP PRIMARY KEY, DROP COLUMN id, ADD PRIMARY KEY (model_id, message_key)")
        execute(db, "ALTER TABLE learned DROP KEY model_id")
    execute(db, "UPDATE meta SET value = '9' WHERE name = 'schema_version'")


def undo_version_6(db: str) -> None:
    """Take away the columns and indexes versions 6 to 8 added, as a database of version 5 lacks them."""
    undo_version_8(db)
    for table, columns in INDEXED[6]:
        execute(db, f"DROP INDEX {index_name(table, columns)}" + ("" if is_sqlite(db) else f" ON {table}"))
    for table, column in ADDED[6]:
        execute(db, f"ALTER TABLE {table} DROP COLUMN {column}")


async def ngrams_by_text(store: Store, name: str) -> Table:
    """Every row of the model's active build, keyed by its words: each n-gram's count and
    adjusted count; each context's (its words, then "->") statistics and head (as words)."""
    model = await store.models.model(name)
    rows = [await store.models.order_rows(model.active_build, n) for n in range(1, model.order + 1)]
    texts = (await store.models.vocabulary(model, every_word=True)).texts
    parents = parent_rows([r.ctx for r in rows], [r.word for r in rows])
    table: Table = {}
    grams: list[tuple[str, ...]] = []
    spelled = {(1, hashing.EMPTY_KEY): ()}
    for i, r in enumerate(rows):
        grams = [(grams[p] if i else ()) + (texts[w],) for p, w in zip(parents[i].tolist(), r.word.tolist())]
        table.update(zip(grams, zip(r.count.tolist(), r.adjusted.tolist())))
        spelled.update(zip(((i + 2, k) for k in hashing.extend_array(r.ctx, r.word).tolist()), grams))
    found = await store.models.contexts(model.active_build, list(spelled))
    for key, context in found.items():
        counts = context.counts.tolist()
        last = counts[-1] if counts and not context.whole else 0  # ties at a head's end: by word id, which may differ
        table[(*spelled[key], "->")] = (
            context.total,
            context.n1,
            context.n2,
            context.n3,
            context.whole,
            counts,
            {texts[w]: a for w, a in zip(context.words.tolist(), counts) if a > last},
        )
    return table


def assert_same_model(forgot: Table, alone: Table) -> None:
    assert forgot.keys() == alone.keys()
    for gram, stored in alone.items():
        assert forgot[gram] == stored, gram


def assert_refused(result: CliResult, *fragments: str) -> None:
    """A ``dbslm`` run refused its input: a non-zero exit and one line on stderr with ``fragments``."""
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbslm: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def make(tmp_path: Path, name: str, data: bytes | str) -> Path:
    """A file ``name`` in ``tmp_path`` holding ``data``."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


class Recorder(list):
    """What a fake platform server received: a list of calls that a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._grown = asyncio.Event()

    def add(self, item: dict) -> None:
        self.append(item)
        self._grown.set()

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        """The calls so far, once there are at least ``count`` of them."""

        async def enough() -> None:
            while len(self) < count:
                self._grown.clear()
                await self._grown.wait()

        await asyncio.wait_for(enough(), timeout)
        return self


async def bot_process(env: dict[str, str], stderr: int = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
    """The bot's process (``python -m app``) started with ``env`` and no input, its output piped
    (``stderr``: asyncio.subprocess.STDOUT merges the two)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


def console_bot_process(env: dict[str, str]) -> subprocess.Popen:
    """The bot's process on the console, its standard streams piped as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "app"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


async def run_bot_process(env: dict[str, str]) -> tuple[int, str]:
    """Run the bot's process with ``env`` and no input, to its end: its exit code and everything
    it printed."""
    proc = await bot_process(env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, (out + err).decode()


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 5) -> T:
    """``read()`` once ``done`` accepts it (the bot learns in the background); after ``timeout``
    seconds, fails with the last value read."""

    async def poll() -> T:
        while not done(value := await read()):
            await asyncio.sleep(0.02)
        return value

    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        value = await read()
        assert done(value), f"not done after {timeout} s: {value!r}"
        return value


class Payloads:
    """Payloads recorded as a platform sends them, one a JSON file (``folder``/<name>.json)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, /, **fields: Any) -> dict[str, Any]:
        """A fresh copy of the payload ``name``, with ``fields`` in place of (or besides) its own."""
        return {**json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8")), **fields}
