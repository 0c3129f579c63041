"""``dbslm chat``: the REPL driven through piped standard input, as a user's script would."""

from __future__ import annotations

import os
import signal
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
    assert alone.returncode == 1 and "no model 'discord:1'" in alone.stderr and "its models: base" in alone.stderr
    mixed = chat(db, "--model", "discord:1", "--base", "base", "--base-weight", "0.5", "--prompt", "Hello")
    assert mixed.returncode == 0 and mixed.stdout.strip() and "trained yet" not in mixed.stdout
    bad = chat(db, "--model", "discord:1", "--base", "base", "--base-weight", "2", "--prompt", "Hello")
    assert bad.returncode == 2 and "not a share from 0 to 1" in bad.stderr


def test_ctrl_c_leaves_at_once_without_a_training_message(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    assert chat(db, "--prompt", "Hello").returncode == 0
    repl = subprocess.Popen(
        [sys.executable, "-m", "dbslm", "chat", "--db", db],
        stdin=subprocess.PIPE,  # left open: the REPL waits for a line that never comes
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert repl.stdout.readline().startswith("conversation ")
        repl.send_signal(signal.SIGINT)
        code = repl.wait(timeout=10)
    finally:
        repl.kill()
    assert code == 130 and repl.stderr.read().strip() == ""


def test_empty_lines_and_prompts_get_no_reply(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, stdin="\n   \nHello\n\n:history\n")
    assert run.returncode == 0 and run.stdout.count("bot> ") == 1 and run.stdout.count("[user]") == 1
    empty = chat(db, "--prompt", "  ")
    assert empty.returncode == 1 and empty.stderr.strip() == "dbslm: error: --prompt is empty: give the text to answer"


def test_history_says_when_older_messages_are_left_out(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, stdin="Hello\nHow are you?\nWhat is AI?\n:history 2\n:history\n:history x\n")
    out = run.stdout.splitlines()
    at = out.index("  (the last 2 messages; :history 10 shows more)")
    assert out[at + 1].startswith("  [user] What is AI?") and out[at + 2].startswith("  [bot] ")
    assert sum(line.startswith("  [") for line in out[at + 3 :]) == 6  # all six fit the default 20
    assert "usage: :history [N], N from 1 to 10,000 (the last N messages)" in out


def test_the_default_database_does_not_depend_on_the_working_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSLM_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    here, there = tmp_path / "here", tmp_path / "there"
    (there / "var").mkdir(parents=True)
    here.mkdir()
    (there / "var" / "dbslm.sqlite3").write_bytes(b"")  # a database at the old default place

    def run(folder):
        command = [sys.executable, "-m", "dbslm", "chat", "--prompt", "Hello"]
        return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)

    first, second = run(here), run(there)
    assert "starter corpus" in first.stderr and (tmp_path / "data" / "dbslm" / "dbslm.sqlite3").exists()
    assert second.returncode == 0 and "starter" not in second.stderr  # the same model, from another folder
    assert "note: var/dbslm.sqlite3 here is a database of the old default place" in second.stderr


def test_commands_take_either_prefix_and_other_lines_are_messages(tmp_path):
    db = str(tmp_path / "chat.sqlite3")
    run = chat(db, stdin="/Help\nHello\n/history 1\n/shrug\n:)\n:D\n/r/python is nice\n/exit\nnever read\n")
    out = run.stdout.splitlines()
    assert run.returncode == 0 and "never read" not in run.stdout
    assert out[1].startswith("commands: :history [N]") and "Can I help" not in run.stdout
    assert out[3:5] == ["  (the last message; :history 5 shows more)", "  [bot] Hi"]
    assert out[5].startswith("no command 'shrug' here; commands:")
    said = table_rows(db, "SELECT text FROM messages WHERE role = 'user' ORDER BY id")
    assert said == [("Hello",), (":)",), (":D",), ("/r/python is nice",)]
