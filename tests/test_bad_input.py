"""Bad input: one clear line on stderr, a non-zero exit, and the model untouched."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import assert_refused, make, table_rows


@pytest.fixture
def trained(cli, db, kjv) -> str:
    assert cli("train", kjv / "test.txt", "--db", db, "--tokenizer", "whitespace").code == 0
    return db


def snapshot(db: str) -> list[tuple]:
    return table_rows(db, "SELECT build, n, ctx, word, count, logp FROM ngrams ORDER BY 1, 2, 3, 4")


@pytest.mark.parametrize(
    "name,data,fragments",
    [
        ("empty.txt", "", ["nothing to train"]),
        ("blank.txt", "\n  \n\t\n", ["nothing to train"]),
        ("binary.txt", b"\x7fELF\x02\x01\x00\x00" * 100, ["binary"]),
        ("latin1.txt", "caf\xe9 au lait\n".encode("latin-1"), ["latin1.txt:1", "0xe9", "--encoding"]),
        ("short.txt", "hello\n", ["nothing to train", "at least"]),
    ],
)
def test_bad_training_files(cli, trained, tmp_path, name, data, fragments):
    before = snapshot(trained)
    assert_refused(cli("train", make(tmp_path, name, data), "--db", trained), *fragments)
    assert snapshot(trained) == before


def test_huge_line(cli, trained, tmp_path):
    before = snapshot(trained)
    huge = make(tmp_path, "huge.txt", "ok line\n" + "word " * 2_000_000 + "\n")  # a 10 MB line
    assert_refused(cli("train", huge, "--db", trained), "huge.txt:2", "characters")
    assert snapshot(trained) == before


def test_missing_paths_and_empty_folder(cli, trained, tmp_path):
    assert_refused(cli("train", tmp_path / "nope.txt", "--db", trained), "no such file")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "notes.md").write_text("not a txt file")
    assert_refused(cli("train", tmp_path / "empty_dir", "--db", trained), "no .txt/.json")


@pytest.mark.parametrize("order", ["0", "7", "-1"])
def test_order_out_of_range(cli, db, kjv, order):
    assert_refused(cli("train", kjv / "test.txt", "--db", db, "--order", order), "out of range")


def test_unwritable_database(cli, kjv, tmp_path):
    blocker = make(tmp_path, "file", "I am a file, not a folder")
    assert_refused(cli("train", kjv / "test.txt", "--db", blocker / "model.sqlite3"), "cannot open database")
    assert_refused(cli("train", kjv / "test.txt", "--db", "/proc/dbslm.sqlite3"), "database")


def test_a_file_that_is_not_a_database(cli, kjv, tmp_path):
    text = make(tmp_path, "notes.sqlite3", "I am plain text, not a database\n" * 200)
    for command in (("train", kjv / "test.txt"), ("eval", kjv / "test.txt"), ("chat", "--prompt", "hello")):
        assert_refused(cli(*command, "--db", text), "cannot use database", "not a database")
    assert text.read_text().startswith("I am plain text")  # left as it was


def test_eval_refusals(cli, db, trained, kjv, tmp_path):
    assert_refused(cli("eval", kjv / "test.txt", "--db", trained, "--model", "ghost"), "no model named 'ghost'")
    assert_refused(cli("eval", make(tmp_path, "e.txt", ""), "--db", trained), "nothing to evaluate")
    assert_refused(cli("eval", kjv / "test.txt", "--db", trained, "--order", "9"), "out of range")


def test_bad_arpa_files(cli, trained, tmp_path):
    before = snapshot(trained)
    cases = {
        "not.arpa": "hello world\n",
        "truncated.arpa": "\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n",
        "badnum.arpa": "\\data\\\nngram 1=1\n\n\\1-grams:\nabc\tword\n\n\\end\\\n",
    }
    for name, text in cases.items():
        assert_refused(cli("import-arpa", make(tmp_path, name, text), "--db", trained, "--model", "base"), name)
    assert snapshot(trained) == before


def test_hostile_model_name_and_sql_text(cli, trained, tmp_path):
    assert_refused(
        cli("train", make(tmp_path, "a.txt", "a b c d\n"), "--db", trained, "--model", "x'; DROP TABLE ngrams; --"),
        "invalid model name",
    )
    sql = make(tmp_path, "sql.txt", "'; DROP TABLE ngrams; -- and more words here\n")
    assert cli("train", sql, "--db", trained).code == 0
    assert table_rows(trained, "SELECT COUNT(*) FROM vocab WHERE text = 'DROP'") == [(1,)]


def test_non_english_text_trains(cli, db, tmp_path):
    text = "今日はいい天気ですね。\nمرحبا بالعالم اليوم\nПривет, как дела?\n🎉🎉 party time 🎉\n"
    assert cli("train", make(tmp_path, "intl.txt", text), "--db", db).code == 0
    assert cli("eval", make(tmp_path, "intl2.txt", text), "--db", db, "--json").json()["oovs"] == 0


def test_unknown_flag_is_a_usage_error_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dbslm", "train", "--no-such-flag", "x.txt"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unrecognized arguments" in proc.stderr and "Traceback" not in proc.stderr


def test_dialog_files_train_and_bad_rows_name_their_line(cli, db, tmp_path):
    good = make(
        tmp_path,
        "d.ndjson",
        '{"prompt": "what is your name?", "response": "My name is Quill.", '
        '"emotion": "happy"}\n\n{"prompt": "who made you?", "response": "A team."}\n',
    )
    yml = make(tmp_path, "c.yml", "conversations:\n- - Hello there\n  - General Kenobi\n  - You are a bold one\n")
    listing = make(tmp_path, "l.json", '[{"prompt": "ping", "response": "pong pong"}]')
    result = cli("train", good, yml, listing, "--db", db)
    assert result.code == 0 and "2 prompt/response pairs" in result.out and "c.yml: 2 prompt" in result.out
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(5,)]
    before = snapshot(db)
    cases = [
        ("bad.ndjson", '{"prompt": "a", "response": "b"}\n{"prompt": "x"\n', "bad.ndjson:2"),
        ("missing.ndjson", '{"prompt": "a"}\n', "missing.ndjson:1"),
        ("bad.yml", "conversations: [[", "bad.yml:1"),
        ("flat.json", '{"prompt": "a"}', "flat.json"),
    ]
    for name, text, where in cases:
        assert_refused(cli("train", make(tmp_path, name, text), "--db", db), where)
    assert snapshot(db) == before
