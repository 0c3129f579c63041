"""Cold storage: flushing contexts to MariaDB changes no answer, loses and doubles nothing."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from dbslm.errors import DbslmError
from tests.helpers import assert_refused, fresh_mariadb, split_pairs, table_rows

NGRAM = "n, ctx, word, count, logp, backoff, q, adjusted"
CONTEXT = "n, ctx, total, n1, n2, n3, head_words, head_counts"


def rows(db: str, prefix: str = "") -> list:
    """The n-gram and context rows of ``db`` (``prefix``: of its cold tables), in one order."""
    return sorted(
        table_rows(db, f"SELECT build, {NGRAM} FROM {prefix}ngrams")
        + table_rows(db, f"SELECT build, {CONTEXT} FROM {prefix}contexts"),
        key=repr,
    )


def state(sqlite: str, cold: str) -> tuple[list, list, list]:
    """The rows here and in the cold tier, and the flushed contexts."""
    flushed = sorted(table_rows(sqlite, "SELECT build, n, ctx, rows_moved FROM flushed"))
    return rows(sqlite), rows(cold, "cold_"), flushed


@pytest.fixture
def trained(cli, tmp_path, kjv) -> str:
    path = str(tmp_path / "local.sqlite3")
    assert cli("train", kjv / "train.txt", "--db", path, "--tokenizer", "whitespace").code == 0
    return path


def test_flush_moves_rows_and_answers_stay_the_same(cli, trained, kjv, mariadb_url, monkeypatch):
    before = cli("eval", kjv / "test.txt", "--db", trained, "--json").json()
    said = [cli("chat", "--db", trained, "--prompt", prompt, "--seed", 3).out for prompt in ("And God", "Moses")]
    rows_before = rows(trained)
    assert cli("flush", "--db", trained, "--to", mariadb_url).out.count("nothing to flush") == 1
    result = cli("flush", "--db", trained, "--to", mariadb_url, "--force", "--batch", 5000)
    assert result.code == 0 and "moved 5,000 contexts" in result.out
    local, remote, flushed = state(trained, mariadb_url)
    assert len(flushed) == 5000 and remote and not set(local) & set(remote)
    assert sorted(local + remote, key=repr) == rows_before
    monkeypatch.setenv("DBSLM_MARIADB_DATABASE", mariadb_url.rsplit("/", 1)[1])
    assert cli("eval", kjv / "test.txt", "--db", trained, "--json").json() == before
    assert [
        cli("chat", "--db", trained, "--prompt", prompt, "--seed", 3).out for prompt in ("And God", "Moses")
    ] == said


@pytest.mark.parametrize("stage,delay", [("copying", 0.05), ("verified", 0.0)])
def test_flush_killed_midway_and_rerun_ends_in_the_same_state(cli, trained, tmp_path, mariadb_url, stage, delay):
    reference = str(tmp_path / "reference.sqlite3")
    shutil.copy(trained, reference)
    with fresh_mariadb() as reference_cold:
        assert cli("flush", "--db", reference, "--to", reference_cold, "--force", "--batch", 20000).code == 0
        expected = state(reference, reference_cold)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbslm", "flush", "--db", trained, "--to", mariadb_url, "--force", "--batch", "20000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if line.startswith(stage):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cli("flush", "--db", trained, "--to", mariadb_url, "--force", "--batch", 20000).code == 0
    assert state(trained, mariadb_url) == expected


def test_training_after_a_flush_brings_the_model_home(cli, trained, kjv, mariadb_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DBSLM_MARIADB_DATABASE", mariadb_url.rsplit("/", 1)[1])
    plain = str(tmp_path / "plain.sqlite3")
    shutil.copy(trained, plain)
    assert cli("flush", "--db", trained, "--to", mariadb_url, "--force", "--batch", 3000).code == 0
    for db in (trained, plain):
        assert cli("train", kjv / "test.txt", "--db", db).code == 0
    assert (
        cli("eval", kjv / "test.txt", "--db", trained, "--json").json()
        == cli("eval", kjv / "test.txt", "--db", plain, "--json").json()
    )
    assert table_rows(mariadb_url, "SELECT COUNT(*) FROM cold_ngrams") == [(0,)]
    assert table_rows(trained, "SELECT COUNT(*) FROM flushed") == [(0,)]


def test_flush_refusals(cli, trained, tmp_path):
    assert_refused(cli("flush", "--db", tmp_path / "none.sqlite3", "--force"), "no database")
    assert_refused(cli("flush", "--db", "mariadb://root@127.0.0.1/x"), "SQLite")
    assert_refused(cli("flush", "--db", trained, "--force", "--to", "mariadb://root@127.0.0.1:1/x"), "127.0.0.1:1")


async def test_replies_and_candidates_are_the_same_after_a_flush(tmp_path, mariadb_url):
    from dbslm.engine import DBSLMEngine
    from dbslm.reading.reader import ModelReader
    from dbslm.store import open_store

    path = str(tmp_path / "chat.sqlite3")
    engine = await DBSLMEngine.open(path)
    await engine.train_dialog(split_pairs()[0])
    prompts = ["What is AI?", "Tell me a joke", "Do you like movies?", "who are you", "Hello"]

    async def replies(eng: DBSLMEngine) -> list[str]:
        return [(await eng.respond(await eng.start_conversation("f"), p, seed=i)).text for i, p in enumerate(prompts)]

    async def candidates(store) -> list[tuple]:
        model = await store.models.model("base")
        reader = await ModelReader.open(store.models, model)
        histories = [[1, *ids] for ids in (list(range(4, 60)), list(range(200, 230)), list(range(900, 905)))]
        out = []
        for history in histories:
            for end in range(1, len(history) + 1):
                words, logp = await reader.candidates(history[:end])
                out.append((words.tolist(), logp.round(12).tolist()))
        return out

    before = await replies(engine), await candidates(engine.store)
    model = await engine.store.models.model("base")
    await engine.close()
    store = await open_store(path)
    await store.attach_cold(mariadb_url)
    report = await store.cold.flush(model.active_build, 100_000, lambda stage: None)
    assert report.contexts > 1000
    assert (await replies(DBSLMEngine(store)), await candidates(store)) == before
    await store.close()
    with pytest.raises(DbslmError, match="keeps contexts in cold storage on MariaDB"):
        await open_store(path)  # the store reads no settings: its caller names the cold tier
