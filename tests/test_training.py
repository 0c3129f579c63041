"""Incremental training, atomic switching and surviving a killed run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from dbslm.store.dialect import SQLiteDialect
from tests.helpers import is_sqlite, table_rows

ROWS = (
    "SELECT n, ctx, word, count, logp, COALESCE(backoff, 0), q FROM ngrams g "
    "JOIN models m ON m.active_build = g.build ORDER BY n, ctx, word"
)


def test_train_a_then_b_equals_train_a_plus_b(cli, tmp_path, kjv, mariadb_url):
    lines = (kjv / "train.txt").read_text().splitlines()
    half = len(lines) // 2
    a, b, ab = (tmp_path / n for n in ("a.txt", "b.txt", "ab.txt"))
    a.write_text("\n".join(lines[:half]) + "\n")
    b.write_text("\n".join(lines[half:]) + "\n")
    ab.write_text("\n".join(lines) + "\n")
    steps, once = mariadb_url, str(tmp_path / "once.sqlite3")  # and SQLite equals MariaDB
    for args in ((a, "--db", steps), (b, "--db", steps), (ab, "--db", once)):
        assert cli("train", *args, "--order", 4, "--tokenizer", "whitespace").code == 0
    stepwise, whole = table_rows(steps, ROWS), table_rows(once, ROWS)
    assert len(stepwise) == len(whole)
    for x, y in zip(stepwise, whole):
        assert x[:4] == y[:4]
        assert x[4] == pytest.approx(y[4], abs=1e-9) and x[5] == pytest.approx(y[5], abs=1e-9)
    assert table_rows(steps, "SELECT id, text, freq FROM vocab") == table_rows(once, "SELECT id, text, freq FROM vocab")


def test_old_builds_are_purged_and_reset_replaces_the_model(cli, db, kjv):
    cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace")
    cli("train", kjv / "test.txt", "--db", db)
    assert table_rows(db, "SELECT COUNT(DISTINCT build) FROM ngrams") == [(1,)]
    assert table_rows(db, "SELECT status FROM builds") == [("active",)]  # nothing half-written left
    doubled = table_rows(db, "SELECT MAX(count) FROM ngrams WHERE n = 1")[0][0]
    cli("train", kjv / "test.txt", "--db", db, "--reset", "--order", 2)
    assert table_rows(db, "SELECT MAX(count) FROM ngrams WHERE n = 1")[0][0] * 2 == doubled
    assert table_rows(db, "SELECT ngram_order FROM models") == [(2,)]


def test_builds_written_and_purged_in_many_transactions_are_the_same(cli, tmp_path, kjv, monkeypatch):
    """SQLite writes a build's rows (and a new model's vocabulary) and deletes a replaced
    build's rows a part at a time, so that a reply's log waits for one part at most: the
    model is the one written at once."""
    whole, parts = str(tmp_path / "whole.sqlite3"), str(tmp_path / "parts.sqlite3")
    for db in (whole, parts):
        if db == parts:
            monkeypatch.setattr(SQLiteDialect, "build_rows_per_transaction", 97)
        for _ in range(2):  # the second build replaces the first, whose rows are deleted
            assert cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace").code == 0
    for sql in (
        ROWS,
        "SELECT id, text, control, freq FROM vocab ORDER BY id",
        "SELECT COUNT(*) FROM heads",
        "SELECT COUNT(DISTINCT build) FROM ngrams",
        "SELECT status FROM builds",
    ):
        assert table_rows(parts, sql) == table_rows(whole, sql)
    assert table_rows(parts, "SELECT COUNT(DISTINCT build) FROM ngrams") == [(1,)]
    assert table_rows(parts, "SELECT COUNT(*) FROM ngrams")[0][0] > 97 * 10


def test_training_other_order_needs_reset(cli, db, kjv):
    cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace")
    result = cli("train", kjv / "test.txt", "--db", db, "--order", 4)
    assert result.code == 1 and "--reset" in result.err


def test_models_are_separate(cli, db, kjv, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("zebras graze quietly on the savanna\n")
    cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace")
    before = table_rows(db, ROWS)
    assert cli("train", other, "--db", db, "--model", "zoo").code == 0
    assert table_rows(
        db,
        "SELECT COUNT(*) FROM vocab v JOIN models m ON m.id = v.model_id WHERE m.name = 'base' AND v.text = 'zebras'",
    ) == [(0,)]
    assert cli("eval", kjv / "test.txt", "--db", db, "--json").code == 0
    assert table_rows(db, ROWS.replace("ORDER BY", "AND m.name = 'base' ORDER BY")) == before


def test_sigkill_during_training_leaves_previous_model(cli, db, kjv, tmp_path):
    assert cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace").code == 0
    before = cli("eval", kjv / "test.txt", "--db", db, "--json").json()
    lines = (kjv / "train.txt").read_text().splitlines()
    big = tmp_path / "big.txt"  # three texts with distinct n-grams: a long write
    big.write_text("\n".join(lines + [" ".join(x.split()[::-1]) for x in lines] + [x.upper() for x in lines]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbslm", "train", str(big), "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if line.startswith("writing"):
            break
    time.sleep(0.1)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    after = cli("eval", kjv / "test.txt", "--db", db, "--json").json()
    assert after == before
    if is_sqlite(db):
        assert table_rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert cli("train", kjv / "test.txt", "--db", db).code == 0


def test_two_processes_training_one_sqlite_model_lose_nothing(cli, tmp_path, kjv):
    db = str(tmp_path / "shared.sqlite3")
    lines = (kjv / "train.txt").read_text().splitlines()
    parts = [tmp_path / "p1.txt", tmp_path / "p2.txt"]
    parts[0].write_text("\n".join(lines[::2]))
    parts[1].write_text("\n".join(lines[1::2]))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "dbslm", "train", str(p), "--db", db, "--tokenizer", "whitespace"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in parts
    ]
    assert [r.wait(timeout=120) for r in runs] == [0, 0]
    once = str(tmp_path / "once.sqlite3")
    assert cli("train", kjv / "train.txt", "--db", once, "--tokenizer", "whitespace").code == 0
    total = "SELECT n, SUM(count) FROM ngrams g JOIN models m ON m.active_build = g.build GROUP BY n"
    assert table_rows(db, total) == table_rows(once, total)


def test_a_model_with_a_zero_discount_trains_on_every_backend(cli, db, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("a\nb\na c b\na\n")  # a trigram discount of exactly 0 (tests/test_ngram_units.py)
    assert cli("train", corpus, "--db", db, "--tokenizer", "whitespace").code == 0
    assert table_rows(db, "SELECT MIN(d2) FROM discounts") == [(0.0,)]
    exported = tmp_path / "tiny.arpa"
    assert cli("export-arpa", exported, "--db", db).code == 0
    assert "\t-99\n" in exported.read_text()  # the backoff of "a c": no mass left, a finite floor
    scored = cli("eval", corpus, "--db", db, "--json")
    assert scored.code == 0 and scored.json()["perplexity_including_oovs"] < 10


async def test_a_first_training_that_fails_while_counting_leaves_the_model_untrained(db, monkeypatch):
    """A first build's vocabulary is written while its text is counted: when the counting
    fails, the model is left untrained (no build, nothing active), and the next training
    replaces what vocabulary was written."""
    from dbslm.errors import DbslmError
    from dbslm.store import open_store
    from dbslm.training import builds

    counted = builds._build

    def failing(*args: object) -> object:
        time.sleep(0.5)  # the vocabulary is written meanwhile
        raise DbslmError("the counting failed")

    async with await open_store(db) as store:
        model = await builds.resolve_model(store, "base", 2, "whitespace", reset=False)
        monkeypatch.setattr(builds, "_build", failing)
        with pytest.raises(DbslmError, match="counting failed"):
            await builds.train(store, model, sentences=[["lost", "words", "here"]])
        assert (await store.models.model("base")).active_build is None
        assert table_rows(db, "SELECT COUNT(*) FROM vocab") == [(7,)]
        monkeypatch.setattr(builds, "_build", counted)
        model = await builds.resolve_model(store, "base", None, None, reset=False)
        report = await builds.train(store, model, sentences=[["a", "b", "a"]])
    assert report.ngrams == {1: 5, 2: 4}
    assert table_rows(db, "SELECT text, freq FROM vocab WHERE id > 3 ORDER BY id") == [("a", 2), ("b", 1)]
    assert table_rows(db, "SELECT status FROM builds") == [("active",)]
