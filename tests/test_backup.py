"""``dbslm backup``: a SQLite database copied whole while others use it."""

from __future__ import annotations

import shutil
import sqlite3

from tests.helpers import table_rows


def test_the_backup_is_the_model_and_answers_alike(cli, tmp_path, trained_dialogs):
    db, copy = tmp_path / "live.sqlite3", tmp_path / "backups" / "copy.sqlite3"
    shutil.copyfile(trained_dialogs, db)
    result = cli("backup", copy, "--db", db)
    assert result.code == 0 and result.out.startswith(f"backed up {db} to {copy} (")
    query = "SELECT build, n, ctx, word, count, adjusted FROM ngrams ORDER BY build, n, ctx, word"
    assert table_rows(str(copy), query) == table_rows(str(db), query)
    answers = [cli("chat", "--db", path, "--seed", "3", "--prompt", "How are you?").out for path in (db, copy)]
    assert answers[0] == answers[1] and answers[0].strip()
    assert not list(copy.parent.glob("*.partial"))


def test_a_backup_does_not_wait_for_a_writer_and_leaves_its_rows_out(cli, tmp_path, trained_dialogs):
    db, copy = tmp_path / "live.sqlite3", tmp_path / "copy.sqlite3"
    shutil.copyfile(trained_dialogs, db)
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM ngrams")  # not committed while the backup runs
        assert cli("backup", copy, "--db", db).code == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert table_rows(str(copy), "SELECT COUNT(*) FROM ngrams") == table_rows(str(db), "SELECT COUNT(*) FROM ngrams")
    assert table_rows(str(copy), "SELECT COUNT(*) FROM ngrams")[0][0] > 0


def test_refusals_are_one_line(cli, tmp_path, trained_dialogs, mariadb_url):
    db, copy = tmp_path / "live.sqlite3", tmp_path / "copy.sqlite3"
    shutil.copyfile(trained_dialogs, db)
    copy.write_text("keep me")
    exists = cli("backup", copy, "--db", db)
    assert exists.code == 1 and exists.err == f"dbslm: error: {copy} exists: pass --force to replace it\n"
    assert copy.read_text() == "keep me"
    assert cli("backup", copy, "--db", db, "--force").code == 0 and table_rows(str(copy), "SELECT COUNT(*) FROM models")
    itself = cli("backup", db, "--db", db, "--force")
    assert itself.code == 1 and "is the database itself" in itself.err
    missing = cli("backup", tmp_path / "x.sqlite3", "--db", tmp_path / "none.sqlite3")
    assert missing.code == 1 and missing.err == f"dbslm: error: no database at {tmp_path / 'none.sqlite3'}\n"
    assert cli("backup", "", "--db", db).err == "dbslm: error: name the backup file: dbslm backup FILE\n"
    folder = cli("backup", tmp_path, "--db", db, "--force")
    assert folder.code == 1 and folder.err.startswith(f"dbslm: error: {tmp_path} is a folder: name a file in it")
    mariadb = cli("backup", tmp_path / "m.sqlite3", "--db", mariadb_url)
    assert mariadb.code == 1 and "back it up with mariadb-dump" in mariadb.err and len(mariadb.err.splitlines()) == 1


def test_a_backup_names_the_contexts_that_live_in_the_cold_tier(cli, tmp_path, trained_dialogs, mariadb_url):
    db, copy = tmp_path / "live.sqlite3", tmp_path / "copy.sqlite3"
    shutil.copyfile(trained_dialogs, db)
    assert cli("backup", copy, "--db", db).err == ""
    assert cli("flush", "--db", db, "--to", mariadb_url, "--force", "--batch", "5").code == 0
    noted = cli("backup", copy, "--db", db, "--force")
    assert noted.code == 0 and noted.err.startswith("note: 5 contexts of this database live in its MariaDB cold tier")
