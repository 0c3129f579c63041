"""SQLite next to MariaDB: training, evaluation and context look-ups on the same model.

    python3 bench/backends_bench.py [--mariadb URL] [--record]

Trains order 3 on the ~800k-token corpus (bench/corpus.py) in a SQLite file and in a fresh
MariaDB database (default: DBSLM_TEST_MARIADB_URL's server), evaluates the pentateuch test
text on both, and times 2,000 context fetches (the reader's look-up: a context's statistics
and head) for random contexts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.corpus import PENTATEUCH, write_corpus  # noqa: E402
from bench.measure import machine_line, publish, run_measured  # noqa: E402
from dbslm.ngram import hashing  # noqa: E402
from dbslm.store import open_store  # noqa: E402
from dbslm.store.mariadb import parse_url  # noqa: E402

TEST = PENTATEUCH.with_name("test.txt")
LOOKUPS = 2000


async def head_latencies(db: str) -> tuple[float, float]:
    """p50 and p95 in milliseconds of the reader's context fetch (a count-form context's
    statistics and head, or its followers when it has no head) for random unigram and bigram
    contexts."""
    async with await open_store(db, create=False) as store:
        model = await store.models.model("base")
        build = model.active_build
        rows = {n: await store.models.order_rows(build, n) for n in (1, 2)}
        rng = random.Random(7)
        times = []
        for _ in range(LOOKUPS):
            n = rng.choice((1, 2))
            i = rng.randrange(len(rows[n].word))
            ctx = hashing.extend(int(rows[n].ctx[i]), int(rows[n].word[i]))
            started = time.perf_counter()
            await store.models.contexts(build, [(n + 1, ctx)])
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mariadb", default=os.environ.get("DBSLM_TEST_MARIADB_URL", "mariadb://root@127.0.0.1:3306/test")
    )
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    t = parse_url(args.mariadb)
    name = f"dbslm_bench_{os.getpid()}"
    admin = pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE {name}")
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus.txt"
            tokens = write_corpus(corpus)
            url = urlsplit(args.mariadb)
            targets = [
                ("SQLite", str(Path(tmp) / "bench.sqlite3")),
                (f"MariaDB ({t.slab_engine} slabs)", urlunsplit(url._replace(path="/" + name))),
            ]
            for label, db in targets:
                train = run_measured(
                    [sys.executable, "-m", "dbslm", "train", str(corpus), "--db", db, "--tokenizer", "whitespace"]
                )
                evaluate = run_measured([sys.executable, "-m", "dbslm", "eval", str(TEST), "--db", db])
                p50, p95 = asyncio.run(head_latencies(db))
                results.append((label, train[0], train[1], evaluate[0], p50, p95))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()
    lines = [
        machine_line("Backends, order 3"),
        "",
        f"Command: `python3 bench/backends_bench.py`; training on {tokens:,} tokens "
        f"(bench/corpus.py), eval of the pentateuch test text (18,738 tokens), {LOOKUPS:,} context fetches.",
        "",
        "| backend | train wall | train peak RSS | eval wall | context fetch p50 | context fetch p95 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, train_wall, rss, eval_wall, p50, p95 in results:
        lines.append(f"| {label} | {train_wall:.2f} s | {rss} MB | {eval_wall:.2f} s | {p50:.3f} ms | {p95:.3f} ms |")
    lines.append(f"\nMariaDB training is {results[1][1] / results[0][1]:.1f}x SQLite's (target: within 3x).")
    publish(lines, args.record)


if __name__ == "__main__":
    main()
