"""More of the dbslm command: --stdin, --max-json-lines, eval-dialog."""

from __future__ import annotations

import json
import subprocess
import sys

from dbslm.cli import COMMANDS
from dbslm.memory.embedding import sentence_models_installed
from tests.helpers import table_rows


def test_stdin_and_max_json_lines(tmp_path):
    db = str(tmp_path / "m.sqlite3")
    rows = tmp_path / "rows.ndjson"
    rows.write_text(
        "".join(json.dumps({"prompt": f"question {i}?", "response": f"answer {i}."}) + "\n" for i in range(500))
    )
    run = subprocess.run(
        [sys.executable, "-m", "dbslm", "train", str(rows), "--stdin", "--db", db, "--max-json-lines", "200"],
        input="piped words arrive here\n",
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "200 prompt/response pairs" in run.stdout and "<stdin>: 1 sentences" in run.stdout
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(200,)]
    assert table_rows(db, "SELECT COUNT(*) FROM vocab WHERE text IN ('piped', '199', '200')") == [(2,)]
    nothing = subprocess.run([sys.executable, "-m", "dbslm", "train", "--db", db], capture_output=True, text=True)
    assert nothing.returncode == 1 and "--stdin" in nothing.stderr


def test_eval_dialog_reports_honest_metrics(cli, tmp_path):
    db = str(tmp_path / "d.sqlite3")
    data = tmp_path / "d.ndjson"
    data.write_text(
        '{"prompt": "what is your name?", "response": "My name is Quill."}\n'
        '{"prompt": "who made you?", "response": "A small team."}\n'
    )
    assert cli("train", data, "--db", db).code == 0
    result = cli("eval-dialog", data, "--db", db, "--json").json()
    assert result["pairs"] == 2 and result["rouge_l_f1"] == 1.0 and result["empty"] == 0.0
    # learned by heart: the prompt makes each reference far more likely than no prompt does
    assert 1.0 <= result["reference_perplexity_with_prompt"] < result["reference_perplexity_without_prompt"]
    if not sentence_models_installed():
        assert result["ranking_measure"] is None
        assert "needs the embeddings extra" in cli("eval-dialog", data, "--db", db).out
    else:
        # each reply is its own reference, but "My name is Quill." has word F1 0.5 with its prompt: a miss
        assert result["ranking_measure"] == 0.5 and result["echo"] == 0.5
    unseen = tmp_path / "u.ndjson"
    unseen.write_text('{"prompt": "tell me about quantum gravity", "response": "It is unsolved."}\n')
    assert cli("eval-dialog", unseen, "--db", db, "--json").json()["rouge_l_f1"] < 1.0


def test_a_rows_other_fields_are_kept_as_pair_metadata(cli, tmp_path):
    db = str(tmp_path / "meta.sqlite3")
    rows = tmp_path / "moods.ndjson"
    rows.write_text(
        json.dumps({"prompt": "how are you?", "response": "Wonderful!", "emotion": "joy", "turn": 2})
        + "\n"
        + json.dumps({"prompt": "and now?", "response": "Still fine."})
        + "\n"
    )
    assert cli("train", rows, "--db", db).code == 0
    kept = table_rows(db, "SELECT prompt, meta FROM pairs ORDER BY id")
    assert [(p, json.loads(m) if m else None) for p, m in kept] == [
        ("how are you?", {"emotion": "joy", "turn": 2}),
        ("and now?", None),
    ]


def test_a_command_imports_only_its_own_module_and_help_lists_them_all():
    probe = (
        "import sys; from dbslm.cli import COMMANDS, build_parser; build_parser(['backup', '--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('dbslm.cli.') and m != 'dbslm.cli.common'), "
        "'dbslm.engine' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dbslm.cli.backup'] False"
    listed = " ".join(
        subprocess.run([sys.executable, "-m", "dbslm", "--help"], capture_output=True, text=True).stdout.split()
    )
    assert all(f"{name} {summary}" in listed for name, (_, summary) in COMMANDS.items())
