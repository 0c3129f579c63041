"""MariaDB as the shared backend: bad servers, dropped connections, two processes at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pymysql
import pytest

from dbslm.store import open_store
from dbslm.store.mariadb import buffer_pool_advice, mariadb_version, parse_url
from tests.helpers import assert_refused, table_rows

SECRET = "s3cr3t-Pa55word"


def test_unreachable_wrong_password_and_missing_database(cli, kjv, mariadb_url):
    t = parse_url(mariadb_url)
    cases = [
        (f"mariadb://root:{SECRET}@127.0.0.1:1/x", "127.0.0.1:1", "cannot connect"),
        (f"mariadb://{t.user}:{SECRET}@{t.host}:{t.port}/{t.database}", f"{t.host}:{t.port}", "access denied"),
        (f"mariadb://{t.user}@{t.host}:{t.port}/dbslm_no_such_db", f"{t.host}:{t.port}", "does not exist"),
    ]
    for url, place, reason in cases:
        for command in (("train", kjv / "test.txt"), ("eval", kjv / "test.txt")):
            result = cli(*command, "--db", url)
            assert_refused(result, place, reason)
            assert SECRET not in result.err + result.out


def big_text(kjv, tmp_path):
    lines = (kjv / "train.txt").read_text().splitlines()
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines + [" ".join(x.split()[::-1]) for x in lines] + [x.upper() for x in lines]))
    return path


def test_connection_dropped_mid_train_leaves_previous_model(cli, kjv, tmp_path, mariadb_url):
    assert cli("train", kjv / "test.txt", "--db", mariadb_url, "--tokenizer", "whitespace").code == 0
    before = cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbslm", "train", str(big_text(kjv, tmp_path)), "--db", mariadb_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    t = parse_url(mariadb_url)
    admin = pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password, autocommit=True)
    killed = 0
    with admin.cursor() as cur:
        while not killed and proc.poll() is None:  # wait until the n-grams are being written
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND "
                "(info LIKE 'LOAD DATA%%ngrams%%' OR info LIKE 'INSERT INTO ngrams%%')",
                (t.database,),
            )
            for (conn_id,) in cur.fetchall():
                cur.execute(f"KILL {int(conn_id)}")
                killed += 1
    admin.close()
    assert killed, "training finished before its connection could be dropped"
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1, err
    assert f"{t.host}:{t.port}" in err and "Traceback" not in err
    assert cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json() == before
    assert cli("train", kjv / "test.txt", "--db", mariadb_url).code == 0
    assert table_rows(mariadb_url, "SELECT COUNT(*) FROM builds") == [(1,)]


def test_the_bulk_tables_are_innodb_unless_the_url_says_otherwise(cli, kjv, mariadb_url):
    cli("train", kjv / "test.txt", "--db", mariadb_url, "--tokenizer", "whitespace")
    engines = table_rows(
        mariadb_url,
        "SELECT table_name, engine FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name IN ('ngrams', 'heads', 'quant')",
    )
    assert sorted(engines) == [("heads", "InnoDB"), ("ngrams", "InnoDB"), ("quant", "InnoDB")]
    assert parse_url(mariadb_url + "?slab_engine=aria").slab_engine == "Aria"


def test_one_process_trains_while_another_answers(cli, kjv, tmp_path, mariadb_url):
    cli("train", kjv / "test.txt", "--db", mariadb_url, "--tokenizer", "whitespace")
    before = cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json()["log10_prob"]
    trainer = subprocess.Popen(
        [sys.executable, "-m", "dbslm", "train", str(big_text(kjv, tmp_path)), "--db", mariadb_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = []
    while trainer.poll() is None:
        result = cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json")
        assert result.code == 0, result.err
        seen.append(result.json()["log10_prob"])
    assert trainer.returncode == 0
    after = cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json()["log10_prob"]
    assert after != before and len(seen) >= 3
    assert set(seen) <= {before, after}, "a reader saw a half-built model"


def test_a_large_model_trains_the_same_on_both_backends(cli, tmp_path, kjv, mariadb_url):
    """~800k tokens: bulk files larger than the server's default 16 MB packet limit."""
    from bench.corpus import write_corpus

    corpus = tmp_path / "corpus.txt"
    write_corpus(corpus)
    sqlite = str(tmp_path / "big.sqlite3")
    for db in (sqlite, mariadb_url):
        assert cli("train", corpus, "--db", db, "--tokenizer", "whitespace").code == 0
    assert (
        cli("eval", kjv / "test.txt", "--db", mariadb_url, "--json").json()
        == cli("eval", kjv / "test.txt", "--db", sqlite, "--json").json()
    )


async def test_processes_opening_an_empty_database_at_once_create_it_once(mariadb_url):
    """Bot processes started together (one a shard) each open the new database: one creates it."""
    for store in await asyncio.gather(*(open_store(mariadb_url) for _ in range(4))):
        await store.close()
    assert table_rows(mariadb_url, "SELECT COUNT(*) FROM meta WHERE name = 'database_id'") == [(1,)]


async def test_a_buffer_pool_smaller_than_the_database_is_named_at_start(mariadb_url, caplog):
    t = parse_url(mariadb_url)
    with pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password) as admin, admin.cursor() as cur:
        cur.execute("SELECT @@innodb_buffer_pool_size, @@innodb_log_file_size")
        pool, log_file = cur.fetchone()
    async with await open_store(mariadb_url) as store:
        assert await store.db.cache_sizes() == {"innodb_buffer_pool_size": pool, "innodb_log_file_size": log_file}
        assert await store.db.settings_advice() == []  # the test database is far smaller than any pool
    assert "buffer pool" not in caplog.text
    line = buffer_pool_advice(t.place, 128 * 2**20, 650 * 2**20)
    assert line.startswith(f"{t.place}: InnoDB's buffer pool (128 MB) is smaller than the database (650 MB)")
    assert "innodb_buffer_pool_size" in line


@pytest.mark.parametrize(
    ("server", "version"),
    [
        ("10.11.19-MariaDB-0+deb12u1", (10, 11)),
        ("5.5.5-10.4.32-MariaDB-log", (10, 4)),
        ("11.4.2-MariaDB-ubu2404", (11, 4)),
        ("8.0.36", None),
    ],
)
def test_the_server_version_is_read_from_its_handshake(server, version):
    assert mariadb_version(server) == version
