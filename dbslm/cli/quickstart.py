"""``dbslm quickstart``: train the starter model on first run and show what it knows."""

from __future__ import annotations

import argparse
import asyncio

from dbslm.cli.common import add_database_options
from dbslm.evaluation import evaluate
from dbslm.starter import starter_conversations
from dbslm.store import open_store
from dbslm.text.tokenize import get_tokenizer
from dbslm.training import DEFAULT_ORDER, DEFAULT_TOKENIZER, resolve_model, train

HELD_OUT_EVERY = 10


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "quickstart", help="train the starter model (first run) and report on it",
        description="Train the model on the starter corpus (chatterbot-corpus English) if it "
                    "has never been trained, holding out every 10th conversation, and report "
                    "its size and its perplexity on the held-out conversations.")
    add_database_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    conversations = starter_conversations()
    tokenize = get_tokenizer(DEFAULT_TOKENIZER).tokenize

    def split() -> tuple[list[list[str]], list[list[str]]]:
        train_part, held_out = [], []
        for i, conversation in enumerate(conversations):
            target = held_out if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else train_part
            target += [t for t in map(tokenize, conversation) if t]
        return train_part, held_out

    train_part, held_out = await asyncio.to_thread(split)
    async with await open_store(args.db) as store:
        model = await store.level1.model(args.model)
        if model is None:
            print(f"training the starter model {args.model!r} in {store.db.description} ...")
            fresh = await resolve_model(store, args.model, DEFAULT_ORDER, DEFAULT_TOKENIZER, reset=False)
            report = await train(store, fresh, train_part)
            print(f"trained on {report.sentences:,} lines ({report.tokens:,} tokens) in {report.seconds:.2f} s")
            model = await store.level1.model(args.model)
        counts = await store.level1.build_counts(model.active_build)
        result = await evaluate(store, model, held_out)
    print(f"model {model.name!r}: order {model.order}, {model.tokenizer} tokenizer, "
          + ", ".join(f"{n}-grams {c:,}" for n, c in sorted(counts.items())))
    print(f"held-out starter conversations: perplexity {result.including_oovs:.2f} "
          f"({result.excluding_oovs:.2f} without the {result.oovs} OOVs) over {result.tokens:,} tokens")
    print("next: dbslm train YOUR_TEXT.txt adds your own text; dbslm eval TEST.txt scores text")
    return 0
