"""``dbslm eval-dialog``: reply metrics on a prompt/response set, through respond()."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from dbslm import metrics
from dbslm.cli.common import add_database_options, add_text_options
from dbslm.config import load_settings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.evaluation import reply_perplexities, trained_model
from dbslm.memory.embedding import BUNDLED, SentenceEmbedder, sentence_models_installed
from dbslm.store import open_store
from dbslm.text.dialogs import read_pairs


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm eval-dialog``."""
    parser.description = (
        "Answer every prompt of a dialog file (NDJSON/JSON rows, YAML conversations) with "
        "respond(), one conversation and seed each, and report ROUGE-L F1, lexical overlap, "
        "distinct-2, the shares of empty, repeated and prompt-echoing replies, the reference "
        "replies' perplexity with and without their prompt and, with the embeddings extra, "
        "the ranking measure (docs/evaluation.md). Empty replies score 0; nothing pads them."
    )
    parser.add_argument("dataset", metavar="FILE")
    add_database_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_text_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    pairs = read_pairs(Path(args.dataset), args.encoding, args.max_line_chars)
    if not pairs:
        raise DbslmError(f"{args.dataset}: no prompt/response pairs")
    store = await open_store(args.db, create=False, cold_url=args.cold_url)
    engine = DBSLMEngine(store, args.model, embedder=load_settings().embedder_model)
    try:
        model = await trained_model(store, args.model)
        replies = []
        for i, (prompt, _) in enumerate(pairs):
            reply = await engine.respond(await engine.start_conversation("eval-dialog"), prompt, seed=i)
            replies.append("" if reply.concept == "no_answer" else reply.text)
        with_prompt, without = await reply_perplexities(store, model, pairs)
    finally:
        await engine.close()
    figures: dict[str, object] = {
        "pairs": len(pairs),
        **metrics.reply_figures(replies, pairs),
        "reference_perplexity_with_prompt": with_prompt,
        "reference_perplexity_without_prompt": without,
        "ranking_measure": await asyncio.to_thread(ranking_measure, replies, pairs),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            shown = (
                f"{value:.4f}"
                if isinstance(value, float)
                else "- (needs the embeddings extra: pip install 'dbslm[embeddings]')"
                if value is None
                else value
            )
            print(f"{name}:\t{shown}")
    return 0


def ranking_measure(replies: list[str], pairs: list[tuple[str, str]]) -> float | None:
    """The mean reciprocal rank of each reply's reference (docs/evaluation.md), judged by the
    bundled all-MiniLM-L6-v2; None without the embeddings extra."""
    if not sentence_models_installed():
        return None
    judge = SentenceEmbedder(BUNDLED)
    texts = [r for _, r in pairs]
    ranks = metrics.reciprocal_ranks(judge.encode(replies), judge.encode(texts), replies, [p for p, _ in pairs])
    return float(ranks.mean())
