"""``dbslm train``: streaming chunks, held-out and interval probes, metrics export, profiling
and bad options, each shown by its effect on the output and the store (the progress bar:
tests/test_train_progress.py)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from dbslm.cli import build_parser, main
from dbslm.cli.ingest import hold_out
from dbslm.evaluation import evaluate, trained_model
from dbslm.store import open_store
from dbslm.text.dialogs import read_pairs, stream_pairs
from dbslm.text.tokenize import get_tokenizer
from tests.helpers import table_rows

PROBE_LINE = re.compile(
    r"probe (\d+) \((held-out|interval), .*\): (\d+) samples, lexical overlap ([\d.]+), "
    r"ROUGE-L ([\d.]+), perplexity ([\d.]+)"
)


def rows_file(path: Path, n: int, tail: str = "") -> Path:
    """``n`` rows whose responses carry a word of their own (``zeta<i>``)."""
    path.write_text(
        "".join(
            json.dumps({"prompt": f"question number {i}?", "response": f"answer zeta{i} here."}) + "\n"
            for i in range(n)
        )
        + tail
    )
    return path


def active_build(db: str) -> int:
    return table_rows(db, "SELECT active_build FROM models WHERE name = 'base'")[0][0]


def counted(db: str, word: str) -> int:
    """The n-gram rows of the active build that predict ``word``."""
    return table_rows(
        db,
        "SELECT COUNT(*) FROM ngrams g JOIN models m ON g.build = m.active_build "
        f"JOIN vocab v ON v.model_id = m.id AND v.id = g.word WHERE v.text = '{word}'",
    )[0][0]


def one_line_error(capsys, *argv: str) -> tuple[int, str]:
    """Run the command line in this process; the exit code and the only line on stderr."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dbslm: error: ") and "Traceback" not in err[0], err
    return code, err[0]


def test_max_json_lines_caps_each_file_and_reads_no_further(cli, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    data = rows_file(tmp_path / "rows.ndjson", 500, tail="{never read, so never refused\n")
    result = cli("train", data, "--db", db, "--max-json-lines", "200", "--json-chunk-size", "50")
    assert result.code == 0, result.err
    assert "200 prompt/response pairs" in result.out and "in 4 batches" in result.out
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(200,)]
    assert counted(db, "zeta199") > 0 and counted(db, "zeta200") == 0


def test_json_chunk_size_makes_a_batch_per_chunk(cli, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    data = rows_file(tmp_path / "rows.ndjson", 25)
    text = tmp_path / "notes.txt"
    text.write_text("the cat sat on the mat\nthe dog ran off\n")
    result = cli("train", data, text, "--db", db, "--json-chunk-size", "10")
    assert result.code == 0, result.err
    assert "in 4 batches" in result.out  # 3 chunks of rows, 1 text file
    assert "25 prompt/response pairs" in result.out and "2 sentences" in result.out
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(25,)]
    whole = str(tmp_path / "whole.sqlite3")
    assert cli("train", data, text, "--db", whole).code == 0 and active_build(whole) == 1
    assert table_rows(
        db, "SELECT n, COUNT(*), SUM(count) FROM ngrams g JOIN models m ON g.build = m.active_build GROUP BY n"
    ) == table_rows(
        whole, "SELECT n, COUNT(*), SUM(count) FROM ngrams g JOIN models m ON g.build = m.active_build GROUP BY n"
    )  # chunk by chunk, the counts add up to the same model


def test_chunk_eval_percent_holds_rows_out_of_training_and_replays_them(cli, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    export = tmp_path / "metrics.json"
    data = rows_file(tmp_path / "rows.ndjson", 40)
    result = cli(
        "train", data, "--db", db, "--json-chunk-size", "10", "--chunk-eval-percent", "10", "--metrics-export", export
    )
    assert result.code == 0, result.err
    assert "36 prompt/response pairs (4 held out for evaluation)" in result.out
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(36,)]
    probes = json.loads(export.read_text())["probes"]
    assert [(p["kind"], p["averages"]["samples"]) for p in probes] == [("held-out", 1)] * 4
    held = [s["reference"] for p in probes for s in p["samples"]]
    assert held == [f"answer zeta{i} here." for i in (9, 19, 29, 39)]
    for i in range(40):
        assert (counted(db, f"zeta{i}") == 0) == (i % 10 == 9), i
    assert table_rows(db, "SELECT COUNT(*) FROM pairs WHERE response LIKE '%zeta9 %'") == [(0,)]
    assert hold_out(list("abcdefghijklmnopqrstuvwxy"), 10) == (
        [c for c in "abcdefghijklmnopqrstuvwxy" if c not in "ly"],
        ["l", "y"],
    )


def test_interval_probes_print_what_the_export_holds(cli, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    export = tmp_path / "timeline.json"
    data = rows_file(tmp_path / "rows.ndjson", 30)
    dataset = rows_file(tmp_path / "probe.ndjson", 12)
    result = cli(
        "train",
        data,
        "--db",
        db,
        "--json-chunk-size",
        "10",
        "--eval-interval",
        "80",
        "--eval-dataset",
        dataset,
        "--eval-samples",
        "3",
        "--eval-pool-size",
        "5",
        "--metrics-export",
        export,
    )
    assert result.code == 0, result.err
    document = json.loads(export.read_text())
    probes = document["probes"]
    printed = [m.groups() for m in map(PROBE_LINE.search, result.out.splitlines()) if m]
    assert len(printed) == len(probes) == 3  # 80 tokens a chunk, a probe after each
    assert [p["tokens_trained"] for p in probes] == [80, 160, 240]
    for (index, kind, samples, overlap, rouge, ppl), probe in zip(printed, probes):
        figures = probe["averages"]
        assert (int(index), kind, int(samples)) == (probe["index"], "interval", 3)
        assert (overlap, rouge, ppl) == (
            f"{figures['lexical_overlap']:.4f}",
            f"{figures['rouge_l_f1']:.4f}",
            f"{figures['perplexity']:.2f}",
        )
    summary = document["summary"]
    assert (
        f"run averages: 9 samples, lexical overlap {summary['lexical_overlap']:.4f}, "
        f"ROUGE-L {summary['rouge_l_f1']:.4f}, perplexity {summary['perplexity']:.2f}"
    ) in result.out
    pool = [f"question number {i}?" for i in range(5)]
    prompts = [[s["prompt"] for s in p["samples"]] for p in probes]
    assert prompts[0] == prompts[1] == prompts[2] and set(prompts[0]) <= set(pool)
    for sample in probes[-1]["samples"]:  # the last probe saw the final model: dbslm eval's perplexity
        assert sample["perplexity"] == pytest.approx(asyncio.run(reference_perplexity(db, sample["reference"])))
        assert sample["tokens"] == 5 and (sample["reply"] or sample["rouge_l_f1"] == 0.0)


async def reference_perplexity(db: str, text: str) -> float:
    async with await open_store(db, create=False) as store:
        model = await trained_model(store, "base")
        tokens = get_tokenizer(model.tokenizer).tokenize(text)
        return (await evaluate(store, model, [tokens])).including_oovs


def test_eval_dataset_from_the_environment_and_the_default_export(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBSLM_DATASET_PATH", str(rows_file(tmp_path / "probe.ndjson", 4)))
    data = rows_file(tmp_path / "rows.ndjson", 10)
    result = cli("train", data, "--db", "a.sqlite3", "--eval-interval", "1")
    assert result.code == 0 and "probe 1 (interval, " in result.out, result.err
    written = list((tmp_path / "var" / "eval_logs").glob("train-*.json"))
    assert len(written) == 1 and f"wrote the probe metrics to {written[0].relative_to(tmp_path)}" in result.out
    assert json.loads(written[0].read_text())["summary"]["samples"] == 4
    disabled = cli("train", data, "--db", "b.sqlite3", "--eval-interval", "1", "--metrics-export", "-")
    assert disabled.code == 0 and "wrote" not in disabled.out
    assert len(list((tmp_path / "var" / "eval_logs").iterdir())) == 1
    quiet = cli("train", data, "--db", "c.sqlite3")
    assert quiet.code == 0 and "probe" not in quiet.out


def test_profile_ingest_prints_a_line_per_input(cli, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    first, second = rows_file(tmp_path / "a.ndjson", 12), rows_file(tmp_path / "b.ndjson", 7)
    line = r"profile {}: \d+\.\d{{3}} s, {} rows, \d+ tokens, rss [\d.,]+ MiB, peak rss [\d.,]+ MiB"
    chunked = cli("train", first, second, "--db", db, "--json-chunk-size", "5", "--profile-ingest").out
    assert re.search(line.format(re.escape(str(first)), 12), chunked)
    assert re.search(line.format(re.escape(str(second)), 7), chunked)
    whole = cli("train", first, "--db", db, "--profile-ingest").out  # one build: it gets its own line
    assert re.search(line.format(re.escape(str(first)), 12), whole) and re.search(line.format(r"build \d+", 12), whole)
    assert not re.search("^profile ", cli("train", first, "--db", db).out, re.M)
    text = tmp_path / "c.txt"  # its final newline ends the third line: no fourth, empty one
    text.write_text("the keeper climbs the stairs\n" * 3)
    assert re.search(line.format(re.escape(str(text)), 3), cli("train", text, "--db", db, "--profile-ingest").out)


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    flags = [f for a in commands.choices["train"]._actions for f in a.option_strings]
    for flag in (
        "--json-chunk-size",
        "--max-json-lines",
        "--eval-interval",
        "--eval-samples",
        "--eval-dataset",
        "--eval-pool-size",
        "--chunk-eval-percent",
        "--metrics-export",
        "--profile-ingest",
    ):
        assert flag in flags
    assert [f for f in flags if f not in text] == []
    assert "DBSLM_DATASET_PATH" in text and "refuses the whole run" in text.replace("\n", " ").replace("  ", " ")


@pytest.mark.parametrize(
    "argv,code,fragment",
    [
        (["--chunk-eval-percent", "150"], 2, "--chunk-eval-percent: 150 is not a percentage"),
        (["--json-chunk-size", "abc"], 2, "--json-chunk-size: 'abc' is not a whole number"),
        (["--json-chunk-size", "0"], 2, "0 is not a positive number"),
        (["--eval-samples", "3"], 1, "--eval-samples: probes need --eval-interval"),
        (["--metrics-export", "rows.ndjson/m.json"], 1, "cannot write the metrics"),
        (["--eval-interval", "10"], 1, "--eval-interval needs prompts"),
        (["--eval-interval", "10", "--eval-dataset", "nowhere.ndjson"], 1, "nowhere.ndjson: no such file"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(capsys, tmp_path, monkeypatch, argv, code, fragment):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBSLM_DATASET_PATH", raising=False)
    data = rows_file(tmp_path / "rows.ndjson", 5)
    got, line = one_line_error(capsys, "train", data, "--db", "m.sqlite3", *argv)
    assert got == code and fragment in line, line
    assert not (tmp_path / "m.sqlite3").exists()


def test_a_malformed_row_in_a_later_chunk_refuses_the_whole_run(cli, capsys, tmp_path):
    db = str(tmp_path / "m.sqlite3")
    assert cli("train", rows_file(tmp_path / "first.ndjson", 5), "--db", db).code == 0
    before = table_rows(db, "SELECT build, n, ctx, word, count FROM ngrams ORDER BY 1, 2, 3, 4")
    bad = rows_file(tmp_path / "bad.ndjson", 30, tail='{"prompt": "x"\n' + json.dumps({"prompt": "a", "response": "b"}))
    code, line = one_line_error(capsys, "train", bad, "--db", db, "--json-chunk-size", "10")
    assert code == 1 and line.startswith(f"dbslm: error: {bad}:31: malformed JSON")
    assert table_rows(db, "SELECT build, n, ctx, word, count FROM ngrams ORDER BY 1, 2, 3, 4") == before
    assert table_rows(db, "SELECT COUNT(*) FROM pairs") == [(5,)]


def test_streamed_rows_match_the_whole_file_reader(tmp_path):
    data = rows_file(tmp_path / "rows.jsonl", 6, tail="\n\n")
    wide = tmp_path / "wide.jsonl"
    wide.write_bytes(data.read_text().encode("utf-16"))
    assert list(stream_pairs(data)) == list(stream_pairs(wide, "utf-16")) == read_pairs(data)
    assert list(stream_pairs(data, limit=2)) == read_pairs(data)[:2]
    broken = rows_file(tmp_path / "broken.ndjson", 3, tail="{oops\n")
    rows = stream_pairs(broken)
    assert next(rows) == ("question number 0?", "answer zeta0 here.")  # read before the bad line is reached


def test_recursive_order_alias_head_size_and_line_limit(cli, tmp_path):
    top = tmp_path / "corpus"
    (top / "deeper").mkdir(parents=True)
    (top / "top.txt").write_text("the lighthouse keeper climbs the stairs\n" * 3)
    (top / "deeper" / "inner.txt").write_text("the ferryman rows across the river\n" * 3)
    flat, deep = str(tmp_path / "flat.sqlite3"), str(tmp_path / "deep.sqlite3")
    assert cli("train", top, "--db", flat).code == 0
    assert cli("train", top, "--db", deep, "--recursive", "--ngram-order", "2", "--head-size", "3").code == 0
    words = "SELECT COUNT(*) FROM vocab WHERE text IN ('lighthouse', 'ferryman')"
    assert table_rows(flat, words) == [(1,)] and table_rows(deep, words) == [(2,)]
    assert table_rows(deep, "SELECT ngram_order FROM models") == [(2,)]
    assert table_rows(deep, "SELECT MAX(LENGTH(head_words)) FROM contexts") == [(3 * 4,)]  # int32 ids, 3 a context
    long_line = tmp_path / "long.txt"
    long_line.write_text("short line\n" + "word " * 40 + "\n")
    refused = cli("train", long_line, "--db", flat, "--max-line-chars", "50")
    assert refused.code == 1 and "long.txt:2" in refused.err
