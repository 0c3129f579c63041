"""Replies while a big training writes to the same database.

    python3 bench/training_load_bench.py [--tokens 10000000] [--rate 20] [--mariadb URL] [--record]

A bot core answers mentions at ``--rate`` per second (open loop, as in load_bench) from the
base model (the ~800k-token corpus plus the starter dialogs) for a while with nothing else
running (idle), then while ``dbslm train`` trains a second model of ``--tokens`` tokens into
the same database in another process, as an admin's training does. Latency runs from arrival
to the reply; every message must be answered once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app import collector  # noqa: E402
from bench.corpus import write_corpus  # noqa: E402
from bench.load_bench import SETTINGS, offer, percentile, traffic  # noqa: E402
from bench.measure import bench_main, machine_line  # noqa: E402
from bot.core import BotCore  # noqa: E402
from dbslm.engine import DBSLMEngine  # noqa: E402
from dbslm.starter import starter_pairs  # noqa: E402

COPY_TOKENS = 162_058  # tokens in one copy of the corpus


async def bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    db = args.mariadb or str(tmp / "replies.sqlite3")
    corpus, big = tmp / "corpus.txt", tmp / "big.txt"
    write_corpus(corpus)
    tokens = write_corpus(big, copies=max(1, round(args.tokens / COPY_TOKENS)))
    engine = await DBSLMEngine.open(db)
    await engine.train_text(corpus.read_text().splitlines(), tokenizer="whitespace")
    pairs = starter_pairs()
    await engine.train_dialog(pairs)
    core = BotCore(engine, SETTINGS)
    await core.start()  # as the bot's process starts
    collector.settle()
    prompts = [p for p, _ in pairs]
    idle = await offer(core, traffic(100, 10, int(args.rate * args.idle_seconds), prompts, "idle", 1), args.rate, 1)
    training = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dbslm",
        "train",
        str(big),
        "--db",
        db,
        "--model",
        "big",
        "--tokenizer",
        "whitespace",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    started, runs = time.perf_counter(), []
    while training.returncode is None:  # a second of traffic at a time, until the training ends
        runs.append(
            await offer(
                core, traffic(100, 10, int(args.rate), prompts, f"t{len(runs)}", len(runs)), args.rate, len(runs)
            )
        )
        try:
            await asyncio.wait_for(training.wait(), 0.001)
        except TimeoutError:
            pass
    seconds = time.perf_counter() - started
    await core.close()
    await engine.close()
    if training.returncode != 0:
        raise SystemExit(f"dbslm train failed with status {training.returncode}")
    during = sorted(ms for run in runs for ms in run.latencies_ms)
    answered = sum(n == 1 for run in (idle, *runs) for n in run.answered.values())
    rows = [
        f"| {label} | {len(lat):,} | {percentile(lat, 0.5):.1f} ms | {percentile(lat, 0.95):.1f} ms | "
        f"{lat[-1]:.1f} ms |"
        for label, lat in (("idle", idle.latencies_ms), (f"during the training ({seconds:.0f} s)", during))
    ]
    backend = "MariaDB" if args.mariadb else "SQLite"
    return [
        machine_line(f"Replies during a training, {backend}"),
        "",
        f"Command: `python3 bench/training_load_bench.py --tokens {args.tokens} --rate {args.rate:g}"
        f"{' --mariadb URL' if args.mariadb else ''}`; replies from the base model (corpus plus "
        f"{len(pairs):,} starter pairs) through BotCore.handle while `dbslm train` adds a "
        f"{tokens:,}-token model to the same database in another process; {answered:,} of "
        f"{len(idle.answered) + sum(len(r.answered) for r in runs):,} messages answered exactly once.",
        "",
        "| when | replies | p50 | p95 | max |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Target (#17): p95 during the training at most 50 ms above idle.",
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tokens", type=int, default=10_000_000, help="tokens of the model trained meanwhile")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second offered")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--mariadb", metavar="URL", help="run on this (empty) MariaDB database instead of SQLite")


if __name__ == "__main__":
    bench_main(__doc__, options, bench)
