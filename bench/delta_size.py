"""What a batch changes in a community's model: the case for learning by delta.

    python3 bench/delta_size.py [--messages 1000000] [--batch 500]

Counts the community bench's messages (order 3, each ``<s> <sep> message </s>``), then
compares the model's statistics before and after (a) a batch of ``--batch`` new messages and
(b) forgetting the heaviest user's messages (10,000 at 1M): how many n-gram rows change their
raw or adjusted (continuation) count or appear or vanish, how many contexts hold such a row,
and how the discounts move. Today every batch and every forget writes the whole model again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.community_bench import HEAVY_USER, make_messages  # noqa: E402
from bench.measure import bench_main, machine_line  # noqa: E402
from bot.events import Message  # noqa: E402
from dbslm.ngram.counting import OrderCounts, count_ngrams, merge_counts  # noqa: E402
from dbslm.ngram.kneser_ney import adjusted_counts, discounts, suffix_rows, with_unk  # noqa: E402
from dbslm.ngram.tables import context_keys  # noqa: E402
from dbslm.text.vocab import BOS, CONTROL_TOKENS, EOS, SEP  # noqa: E402

ORDER = 3


def encode(messages: list[Message], index: dict[str, int]) -> np.ndarray:
    ids: list[int] = []
    for m in messages:
        ids += [BOS, SEP, *(index.setdefault(w, len(index) + len(CONTROL_TOKENS)) for w in m.text.split()), EOS]
    return np.array(ids, dtype=np.int64)


def rows_of(counts: list[OrderCounts]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per order, each row's stable identity (context key, word) and its (raw, adjusted) counts."""
    adjusted = adjusted_counts(counts, suffix_rows(counts))
    ctx, _ = context_keys(counts)
    return [
        (np.stack((ctx[i], counts[i].words), axis=1), np.stack((counts[i].counts, adjusted[i]), axis=1))
        for i in range(len(counts))
    ]


def changed(before: list[OrderCounts], after: list[OrderCounts]) -> list[tuple[int, int, int]]:
    """Per order: rows that change (new, gone or recounted), the contexts holding them, rows after."""
    result = []
    for (k0, v0), (k1, v1) in zip(rows_of(before), rows_of(after)):
        keys = np.concatenate((k0, k1))
        unique, inverse, seen = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        first = np.full((len(unique), 2), -1, dtype=np.int64)
        first[inverse[: len(k0)]] = v0
        second = np.full((len(unique), 2), -1, dtype=np.int64)
        second[inverse[len(k0) :]] = v1
        moved = (seen == 1) | (first != second).any(axis=1)
        result.append((int(moved.sum()), len(np.unique(unique[moved, 0])), len(k1)))
    return result


def report(label: str, before: list[OrderCounts], after: list[OrderCounts], seconds: float) -> list[str]:
    lines = []
    for n, ((rows, contexts, total), d0, d1) in enumerate(
        zip(
            changed(before, after),
            discounts(adjusted_counts(before, suffix_rows(before))),
            discounts(adjusted_counts(after, suffix_rows(after))),
        )
    ):
        lines.append(
            f"| {label} | {n + 1} | {rows:,} of {total:,} ({100 * rows / total:.2f}%) | {contexts:,} | "
            f"{d0.d[0]:.5f} -> {d1.d[0]:.5f} |"
        )
    lines.append(f"| {label}: counting and merging | | {seconds:.2f} s | | |")
    return lines


async def bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    messages = make_messages(args.messages + args.batch, tmp)
    index: dict[str, int] = {}
    new, kept = messages[: args.batch], messages[args.batch :]
    model = with_unk(count_ngrams(encode(kept, index), ORDER))
    started = time.perf_counter()
    learned = merge_counts(model, with_unk(count_ngrams(encode(new, index), ORDER)))
    batch_seconds = time.perf_counter() - started
    heavy = [m for m in kept if m.user == HEAVY_USER]
    started = time.perf_counter()
    subtracted = [OrderCounts(o.keys, -o.counts) for o in with_unk(count_ngrams(encode(heavy, index), ORDER))]
    forgotten = merge_counts(model, subtracted)
    forget_seconds = time.perf_counter() - started
    return [
        machine_line("What a batch changes in a community model"),
        "",
        f"Command: `python3 bench/delta_size.py --messages {args.messages} --batch {args.batch}`; order {ORDER}, "
        f"{len(kept):,} messages of the community bench counted as `<s> <sep> message </s>`.",
        "",
        "| change | order | n-gram rows that change | contexts holding them | D1 before -> after |",
        "|---|---:|---:|---:|---:|",
        *report(f"learn {args.batch:,} messages", model, learned, batch_seconds),
        *report(f"forget {len(heavy):,} messages", model, forgotten, forget_seconds),
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)


if __name__ == "__main__":
    bench_main(__doc__, options, bench)
