"""``dbslm eval``: perplexity of test text, with KenLM ``query``'s definitions."""

from __future__ import annotations

import argparse
import asyncio
import json

from dbslm.cli.common import add_database_options, add_text_options
from dbslm.errors import DbslmError
from dbslm.evaluation import evaluate, trained_model
from dbslm.store import open_store
from dbslm.text.corpus import find_files, read_lines
from dbslm.text.tokenize import get_tokenizer


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm eval``."""
    parser.description = (
        "Score text with the model in back-off form, as KenLM's query does: "
        "perplexity over words and one </s> per sentence, with and without OOVs."
    )
    parser.add_argument("inputs", nargs="+", metavar="PATH", help="test files or folders of .txt files")
    add_database_options(parser)
    parser.add_argument(
        "--order", type=int, metavar="N", help="score with contexts of at most N-1 words (default: the model's order)"
    )
    parser.add_argument(
        "--quantized", action="store_true", help="use the 8-bit quantized log-probabilities instead of the exact ones"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--recursive", action="store_true", help="search folders recursively")
    add_text_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    files = find_files(args.inputs, args.recursive)
    texts = [await asyncio.to_thread(read_lines, path, args.encoding, args.max_line_chars) for path in files]
    async with await open_store(args.db, create=False, cold_url=args.cold_url) as store:
        model = await trained_model(store, args.model)
        tokenize = get_tokenizer(model.tokenizer).tokenize
        sentences = await asyncio.to_thread(lambda: [t for lines in texts for t in map(tokenize, lines) if t])
        if not sentences:
            raise DbslmError("nothing to evaluate: the input has no text")
        result = await evaluate(store, model, sentences, order=args.order, quantized=args.quantized)
    figures = {
        "model": model.name,
        "order": args.order or model.order,
        "quantized": args.quantized,
        "perplexity_including_oovs": result.including_oovs,
        "perplexity_excluding_oovs": result.excluding_oovs,
        "oovs": result.oovs,
        "tokens": result.tokens,
        "log10_prob": result.log10_prob,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"Perplexity including OOVs:\t{result.including_oovs:.6f}")
        print(f"Perplexity excluding OOVs:\t{result.excluding_oovs:.6f}")
        print(f"OOVs:\t{result.oovs}")
        print(f"Tokens:\t{result.tokens}")
    return 0
