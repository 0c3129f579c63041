"""Training benchmark: text file to a queryable model, dbslm next to KenLM's lmplz.

    python3 bench/train_bench.py [--order 3] [--record]

Runs ``dbslm train`` (SQLite, whitespace tokenizer) on the pentateuch corpus and on the
~800k-token corpus of bench/corpus.py, and ``lmplz -o N -S 1G`` on the same files when it is
found (``KENLM_BIN`` folder, or the PATH). Reports wall time, tokens per second, peak RSS and
where dbslm's time goes (stage boundaries from its progress lines). ``--record`` appends the
table to bench/RESULTS.md. dbslm runs byte-compiled, as pip installs it and as any run leaves
it unless ``PYTHONDONTWRITEBYTECODE`` is set (it is on the project's machine, which would
otherwise compile every module at every start).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.corpus import PENTATEUCH, write_corpus  # noqa: E402
from bench.measure import machine_line, publish, run_measured  # noqa: E402

RUNS = 3


def lmplz_path() -> str | None:
    folder = os.environ.get("KENLM_BIN")
    if folder and (Path(folder) / "lmplz").exists():
        return str(Path(folder) / "lmplz")
    return shutil.which("lmplz")


def best_of(runs: list[tuple[float, int, dict]]) -> tuple[float, int, dict]:
    return min(runs, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    lmplz = lmplz_path()
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "dbslm", quiet=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "pentateuch-x5.txt"
        corpora = [
            ("pentateuch", PENTATEUCH, sum(len(x.split()) for x in PENTATEUCH.open())),
            ("pentateuch x5 variants", big, write_corpus(big)),
        ]
        for c, (name, path, tokens) in enumerate(corpora):
            ours = []
            for i in range(RUNS):
                db = Path(tmp) / f"bench{c}-{i}.sqlite3"  # a new database each run: the model starts empty
                ours.append(
                    run_measured(
                        [
                            sys.executable,
                            "-m",
                            "dbslm",
                            "train",
                            str(path),
                            "--db",
                            str(db),
                            "--order",
                            str(args.order),
                            "--tokenizer",
                            "whitespace",
                        ]
                    )
                )
                check = subprocess.run(
                    [sys.executable, "-m", "dbslm", "eval", str(path), "--db", str(db), "--json"],
                    capture_output=True,
                    text=True,
                )
                assert check.returncode == 0, check.stderr  # the database answers queries
            wall, rss, stages = best_of(ours)
            theirs = None
            if lmplz:
                theirs = best_of(
                    [
                        run_measured([lmplz, "-o", str(args.order), "-S", "1G", "--discount_fallback"], stdin=path)
                        for _ in range(RUNS)
                    ]
                )
            rows.append((name, tokens, wall, rss, stages, theirs))
    lines = [
        machine_line(f"Training, order {args.order}, SQLite"),
        "",
        f"Command: `python3 bench/train_bench.py --order {args.order}` (best of {RUNS})",
        "",
        "| corpus | tokens | dbslm wall | tokens/s | peak RSS | lmplz wall | lmplz RSS | ratio | "
        "dbslm stages: start+read+tokenize / count+MKN / write+commit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, tokens, wall, rss, stages, theirs in rows:
        counting = stages.get("counting and estimating", 0.0)
        writing = next((t for s, t in stages.items() if s.startswith("writing")), wall)
        split = f"{counting:.2f} / {writing - counting:.2f} / {wall - writing:.2f} s"
        if theirs:
            their = f"{theirs[0]:.2f} s | {theirs[1]} MB | {wall / theirs[0]:.1f}x"
        else:
            their = "absent | - | -"
        lines.append(f"| {name} | {tokens:,} | {wall:.2f} s | {tokens / wall:,.0f} | {rss} MB | {their} | {split} |")
    if not lmplz:
        lines += ["", "lmplz was not found (set KENLM_BIN to the folder holding it): no ratio this run."]
    publish(lines, args.record)


if __name__ == "__main__":
    main()
