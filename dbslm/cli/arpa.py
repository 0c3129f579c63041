"""``dbslm export-arpa`` and ``dbslm import-arpa``: models in the standard ARPA format."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
from pathlib import Path

from dbslm.cli.common import add_database_options, positive_int, written_whole
from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.evaluation import trained_model
from dbslm.interchange import export_arpa, import_arpa
from dbslm.ngram.heads import DEFAULT_HEAD_SIZE
from dbslm.store import open_store
from dbslm.text.tokenize import TOKENIZERS
from dbslm.training.builds import check_model_name


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm export-arpa`` or of ``dbslm import-arpa``."""
    if command == "export-arpa":
        parser.description = (
            "Write the model's active build as an ARPA file (gzip-compressed when the name ends in .gz; - for stdout)."
        )
        parser.add_argument("output", metavar="FILE")
        add_database_options(parser)
        parser.set_defaults(run=run_export)
        return
    parser.description = (
        "Load an ARPA model into the tables, replacing the named model; the engine then serves it like a trained one."
    )
    parser.add_argument("input", metavar="FILE", help="ARPA file, optionally .gz")
    add_database_options(parser)
    parser.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        default="whitespace",
        help="how text is split before scoring with this model (default: whitespace)",
    )
    parser.add_argument(
        "--head-size",
        type=positive_int,
        default=DEFAULT_HEAD_SIZE,
        metavar="K",
        help=f"words kept per context for sampling (default: {DEFAULT_HEAD_SIZE})",
    )
    parser.add_argument("--encoding", default="utf-8", help="encoding of the file (default: utf-8)")
    parser.set_defaults(run=run_import)


async def run_export(args: argparse.Namespace) -> int:
    async with await open_store(args.db, create=False, cold_url=args.cold_url) as store:
        model = await trained_model(store, args.model)
        if args.output == "-":
            counts = await export_arpa(store, model, sys.stdout)
        else:
            path = Path(args.output)
            opener = gzip.open if path.suffix == ".gz" else open
            with written_whole(path) as partial, opener(partial, "wt", encoding="utf-8") as out:
                counts = await export_arpa(store, model, out)
    if args.output != "-":
        print(f"wrote {args.output}: " + ", ".join(f"{n}-grams {c:,}" for n, c in counts.items()))
    return 0


async def run_import(args: argparse.Namespace) -> int:
    check_model_name(args.model)
    path = Path(args.input)
    if not path.is_file():
        raise DbslmError(f"{path}: no such file")

    def read() -> list[str]:
        try:
            raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
            return raw.decode(args.encoding).split("\n")
        except (OSError, EOFError) as exc:
            raise DbslmError(f"{path}: cannot read: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DbslmError(f"{path}: byte {exc.start} is not valid {args.encoding}") from None

    lines = await asyncio.to_thread(read)
    async with await open_store(args.db, cold_url=args.cold_url) as store:
        existing = await store.models.model(args.model)
        model = ModelInfo(
            existing.id if existing else None,
            args.model,
            0,
            args.tokenizer,
            existing.active_build if existing else None,
        )
        build = await import_arpa(store, model, lines, str(path), args.head_size)
        counts = await store.models.build_counts(build)
    print(
        f"imported {path} as model {args.model!r} (build {build}): "
        + ", ".join(f"{n}-grams {c:,}" for n, c in sorted(counts.items()))
    )
    return 0
