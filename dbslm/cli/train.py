"""``dbslm train``: add text files to a model (or retrain it with --reset)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from dbslm.cli.common import add_database_options, add_text_options, positive_int, token_count
from dbslm.errors import DbslmError
from dbslm.store import open_store
from dbslm.store.level2 import Level2Store
from dbslm.text.corpus import TEXT_SUFFIXES, decode_lines, find_files, read_lines
from dbslm.text.dialogs import DIALOG_SUFFIXES, read_pairs
from dbslm.text.tokenize import TOKENIZERS, get_tokenizer
from dbslm.training import DEFAULT_HEAD_SIZE, check_order, resolve_model, train


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a model on text files (one sentence per line)",
        description="Count n-grams in the given text, merge them with the model's counts and "
                    "rebuild it; the new model goes live only when it is complete.")
    parser.add_argument("inputs", nargs="*", metavar="PATH",
                        help="text files (.txt, one sentence per line), dialog files (.json/.ndjson rows with "
                             "prompt and response, .yml conversations) or folders of them")
    add_database_options(parser)
    parser.add_argument("--order", "--ngram-order", dest="order", type=int, metavar="N",
                        help="n-gram order of a new model, 1 to 6 (default: 3, or the model's)")
    parser.add_argument("--tokenizer", choices=TOKENIZERS,
                        help="regex for chat text, whitespace for pre-tokenized corpora (default: regex)")
    parser.add_argument("--reset", action="store_true", help="retrain the model from this text alone")
    parser.add_argument("--recursive", action="store_true", help="search folders recursively")
    parser.add_argument("--stdin", action="store_true", help="also train on text from standard input")
    parser.add_argument("--max-json-lines", type=positive_int, metavar="N",
                        help="use at most N prompt/response rows of each dialog file")
    parser.add_argument("--head-size", type=positive_int, default=DEFAULT_HEAD_SIZE, metavar="K",
                        help=f"words kept per context for sampling (default: {DEFAULT_HEAD_SIZE})")
    add_text_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if args.order is not None:
        check_order(args.order)
    if not args.inputs and not args.stdin:
        raise DbslmError("nothing to train: name files or folders, or pass --stdin")
    files = find_files(args.inputs, args.recursive, TEXT_SUFFIXES + DIALOG_SUFFIXES)
    inputs = [(path, await asyncio.to_thread(_read, path, args)) for path in files]
    if args.stdin:
        data = await asyncio.to_thread(sys.stdin.buffer.read)
        inputs.append((Path("<stdin>"), decode_lines(data, "<stdin>", args.encoding, args.max_line_chars)))
    async with await open_store(args.db) as store:
        model = await resolve_model(store, args.model, args.order, args.tokenizer, args.reset)
        tokenize = get_tokenizer(model.tokenizer).tokenize
        sentences: list[list[str]] = []
        dialog: list[tuple[list[str], list[str]]] = []
        pairs: list[tuple[str, str]] = []
        for path, content in inputs:
            if path.suffix.lower() in DIALOG_SUFFIXES:
                found = await asyncio.to_thread(lambda: [(tokenize(p), tokenize(r)) for p, r in content])
                tokens = sum(len(p) + len(r) for p, r in found)
                what = f"{len(found):,} prompt/response pairs"
            else:
                found = await asyncio.to_thread(lambda: [t for t in map(tokenize, content) if t])
                tokens = token_count(found)
                what = f"{len(found):,} sentences"
            if tokens < model.order:
                print(f"skipping {path}: {tokens} tokens, fewer than the order {model.order}")
                continue
            print(f"{path}: {what}, {tokens:,} tokens")
            if path.suffix.lower() in DIALOG_SUFFIXES:
                dialog += found
                pairs += content
            else:
                sentences += found
        if not sentences and not dialog:
            raise DbslmError(f"nothing to train: no input has at least {model.order} tokens")
        report = await train(store, model, sentences, dialog=dialog, reset=args.reset, head_size=args.head_size,
                             progress=lambda stage: print(f"{stage} ...", file=sys.stderr, flush=True))
        level2 = Level2Store(store.db)
        trained = await store.level1.model(model.name)
        if args.reset:
            await level2.clear_pairs(trained.id)
        await level2.add_pairs(trained.id, pairs, source="train")
    grams = ", ".join(f"{n}-grams {c:,}" for n, c in report.ngrams.items())
    print(f"model {report.model!r} (build {report.build}): {report.sentences:,} sentences, "
          f"{report.tokens:,} tokens added; {grams}; {report.seconds:.2f} s")
    return 0


def _read(path: Path, args: argparse.Namespace) -> list:
    """A text file's lines, or a dialog file's prompt/response pairs."""
    if path.suffix.lower() in DIALOG_SUFFIXES:
        return read_pairs(path, args.encoding, args.max_line_chars)[:args.max_json_lines]
    return read_lines(path, args.encoding, args.max_line_chars)
