"""``dbslm eval-dialog``: reply metrics on a prompt/response set, through respond()."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from dbslm import metrics
from dbslm.cli.common import add_database_options, add_text_options
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.evaluation import trained_model
from dbslm.store import open_store
from dbslm.text.dialogs import read_pairs


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval-dialog", help="reply metrics on a prompt/response dataset",
        description="Answer every prompt of a dialog file (NDJSON/JSON rows, YAML conversations) with "
                    "respond(), one conversation and seed each, and report ROUGE-L F1, lexical overlap, "
                    "distinct-2 and the shares of empty, repeated and prompt-echoing replies. Empty "
                    "replies score 0; nothing pads them.")
    parser.add_argument("dataset", metavar="FILE")
    add_database_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_text_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    pairs = read_pairs(Path(args.dataset), args.encoding, args.max_line_chars)
    if not pairs:
        raise DbslmError(f"{args.dataset}: no prompt/response pairs")
    store = await open_store(args.db, create=False)
    engine = DBSLMEngine(store, args.model, embedder=load_settings().embedder_model)
    try:
        await trained_model(store, args.model)
        replies = []
        for i, (prompt, _) in enumerate(pairs):
            reply = await engine.respond(await engine.start_conversation("eval-dialog"), prompt, seed=i)
            replies.append("" if reply.concept == "no_answer" else reply.text)
    finally:
        await engine.close()
    normal = [" ".join(metrics.words(r)) for r in replies]
    seen = Counter(normal)
    n = len(pairs)
    figures = {
        "pairs": n,
        "rouge_l_f1": sum(metrics.rouge_l_f1(r, ref) for r, (_, ref) in zip(replies, pairs)) / n,
        "lexical_overlap": sum(metrics.lexical_overlap(r, ref) for r, (_, ref) in zip(replies, pairs)) / n,
        "distinct_2": metrics.distinct_n(replies, 2),
        "repeated": sum(seen[r] > 1 for r in normal if r) / n,
        "echo": sum(r == " ".join(metrics.words(p)) for r, (p, _) in zip(normal, pairs) if r) / n,
        "empty": sum(not r for r in normal) / n,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name}:\t{value:.4f}" if isinstance(value, float) else f"{name}:\t{value}")
    return 0
