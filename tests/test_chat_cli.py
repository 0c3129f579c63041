"""``dbslm chat``: the REPL driven through piped standard input, as a user's script would."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import table_rows


def chat(db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dbslm", "chat", "--db", db, "--seed", "1", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_first_chat_trains_the_starter_model_and_answers(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    first = chat(db, "--prompt", "Hello")
    assert first.returncode == 0 and "starter corpus" in first.stderr and first.stdout.strip()
    again = chat(db, "--prompt", "Hello")
    assert "starter" not in again.stderr and again.stdout == first.stdout


def test_history_exit_resume_and_max_turns(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, stdin="Hello there\n:history\nHow are you?\n:exit\nnever read\n")
    assert run.returncode == 0
    out = run.stdout.splitlines()
    assert out[0].startswith("conversation 1 ")
    assert "  [user] Hello there" in out and sum(line.startswith("bot> ") for line in out) == 2
    assert "never read" not in run.stdout
    resumed = chat(db, "--conversation", "1", "--max-turns", "1", stdin="What is AI?\nnot reached\n:history\n")
    assert resumed.stdout.splitlines()[0].startswith("conversation 1 ")
    assert "not reached" not in resumed.stdout
    history = chat(db, "--conversation", "1", stdin=":history\n").stdout
    assert history.count("[user]") == 3 and "[user] What is AI?" in history
    assert chat(db, stdin="").returncode == 0  # Ctrl-D


def test_correct_in_the_repl_and_bad_conversation(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, stdin="What is your name?\n/correct My name is Quill.\nWhat is your name?\n")
    assert [line for line in run.stdout.splitlines() if line.startswith("bot> ")][-1] == "bot> My name is Quill."
    missing = chat(db, "--conversation", "99", stdin="hi\n")
    assert missing.returncode == 1 and missing.stderr.strip() == f"dbslm: error: no conversation 99 in {db}"


def test_user_and_agent_are_the_logged_identities_and_quit_leaves(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, "--user", "alice", "--agent", "quill", stdin="Hello\n:quit\nnever read\n")
    assert run.returncode == 0 and "never read" not in run.stdout
    assert table_rows(db, "SELECT user_id, agent FROM conversations") == [("alice", "quill")]
    assert table_rows(db, "SELECT role, user_id FROM messages ORDER BY id") == [("user", "alice"), ("bot", "quill")]


def test_a_community_model_answers_over_its_base(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    assert chat(db, "--prompt", "Hello").returncode == 0  # the base model: the starter corpus
    alone = chat(db, "--model", "discord:1", "--no-starter", "--prompt", "Hello")
    assert alone.returncode == 0 and alone.stdout.startswith("I have not been trained yet")
    mixed = chat(db, "--model", "discord:1", "--base", "base", "--base-weight", "0.5", "--prompt", "Hello")
    assert mixed.returncode == 0 and mixed.stdout.strip() and "trained yet" not in mixed.stdout
    bad = chat(db, "--model", "discord:1", "--base", "base", "--base-weight", "2", "--prompt", "Hello")
    assert bad.returncode == 2 and "not a share from 0 to 1" in bad.stderr
