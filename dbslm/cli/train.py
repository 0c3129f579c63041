"""``dbslm train``: add text files to a model (or retrain it with --reset).

Every input is read and checked before anything is trained, so a bad file (undecodable
bytes, a malformed JSON row anywhere in it) refuses the whole run and the model is
untouched. Without --json-chunk-size the whole input is one batch. With it, each text input
and each chunk of dialog rows is a batch of its own, each going live atomically (a new build,
or the model's build changed in place when the batch is small beside it), and dialog files are
streamed (memory stays flat whatever their size). Probes
(--eval-interval, --chunk-eval-percent) answer prompts through respond() and score each reply
against its reference: lexical overlap and ROUGE-L F1 (an empty reply scores 0) and the
reference's perplexity under the model of that moment, as dbslm eval computes it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from dbslm.cli.common import (
    add_database_options,
    add_text_options,
    one_line_errors,
    percentage,
    positive_int,
)
from dbslm.cli.ingest import Reading, Source, scan
from dbslm.cli.probes import Prober, describe, probe_prompts
from dbslm.cli.progress import Progress
from dbslm.cli.train_session import TrainSession
from dbslm.config import load_settings
from dbslm.errors import DbslmError
from dbslm.ngram.heads import DEFAULT_HEAD_SIZE
from dbslm.store import open_store
from dbslm.text.corpus import TEXT_SUFFIXES, decode_lines, find_files
from dbslm.text.dialogs import DIALOG_SUFFIXES
from dbslm.text.tokenize import TOKENIZERS
from dbslm.training.builds import check_order, resolve_model

DEFAULT_EVAL_SAMPLES = 8
DEFAULT_EVAL_POOL = 256
METRICS_FOLDER = Path("var/eval_logs")


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm train``."""
    parser.description = __doc__.split("\n\n", 1)[1].replace("\n", " ")
    one_line_errors(parser)
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="PATH",
        help="text files (.txt, one sentence per line), dialog files (.json/.ndjson/.jsonl rows "
        "with prompt and response, .yml conversations) or folders of them",
    )
    add_database_options(parser)
    parser.add_argument(
        "--order",
        "--ngram-order",
        dest="order",
        type=int,
        metavar="N",
        help="n-gram order of a new model, 1 to 6 (default: 3, or the model's)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        help="regex for chat text, whitespace for pre-tokenized corpora (default: regex)",
    )
    parser.add_argument("--reset", action="store_true", help="retrain the model from this text alone")
    parser.add_argument("--recursive", action="store_true", help="search folders recursively")
    parser.add_argument("--stdin", action="store_true", help="also train on text from standard input")
    parser.add_argument(
        "--max-json-lines",
        type=positive_int,
        metavar="N",
        help="use at most N prompt/response rows of each dialog file (rows after them are not read)",
    )
    parser.add_argument(
        "--json-chunk-size",
        type=positive_int,
        metavar="N",
        help="train dialog files N rows at a time, each chunk its own batch that goes live "
        "atomically (text inputs: one batch each); default: the whole input in one batch",
    )
    parser.add_argument(
        "--chunk-eval-percent",
        type=percentage,
        default=0.0,
        metavar="P",
        help="hold out P%% of every dialog chunk (the whole file without --json-chunk-size; 0 to "
        "below 100): never trained, replayed "
        "through respond() and scored right after the chunk's build (default: 0)",
    )
    parser.add_argument(
        "--eval-interval",
        type=positive_int,
        metavar="TOKENS",
        help="probe the model after every TOKENS trained tokens (at the end of a build)",
    )
    parser.add_argument(
        "--eval-samples", type=positive_int, metavar="N", help=f"prompts per probe (default: {DEFAULT_EVAL_SAMPLES})"
    )
    parser.add_argument(
        "--eval-dataset",
        metavar="FILE",
        help="prompt/response rows (NDJSON or any dialog file) for the probes (default: DBSLM_DATASET_PATH)",
    )
    parser.add_argument(
        "--eval-pool-size",
        type=positive_int,
        metavar="N",
        help="the probes draw their prompts, with a fixed seed, from the dataset's first N rows "
        f"(default: {DEFAULT_EVAL_POOL})",
    )
    parser.add_argument(
        "--metrics-export",
        metavar="PATH",
        help="write the probes' timeline and averages as JSON (default when probes ran: "
        f"{METRICS_FOLDER}/train-<timestamp>.json; - writes none)",
    )
    parser.add_argument(
        "--profile-ingest",
        action="store_true",
        help="print each input's latency and resident memory (current and peak)",
    )
    parser.add_argument(
        "--head-size",
        type=positive_int,
        default=DEFAULT_HEAD_SIZE,
        metavar="K",
        help=f"words kept per context for sampling (default: {DEFAULT_HEAD_SIZE})",
    )
    add_text_options(parser)
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if args.order is not None:
        check_order(args.order)
    if not args.inputs and not args.stdin:
        raise DbslmError("nothing to train: name files or folders, or pass --stdin")
    dataset = _probe_dataset(args)
    _check_export(args.metrics_export)
    reading = Reading(
        args.encoding, args.max_line_chars, args.max_json_lines, args.json_chunk_size, args.chunk_eval_percent
    )
    files = find_files(args.inputs, args.recursive, TEXT_SUFFIXES + DIALOG_SUFFIXES)
    sources = [await asyncio.to_thread(scan, path, reading) for path in files]
    if args.stdin:
        data = await asyncio.to_thread(sys.stdin.buffer.read)
        lines = await asyncio.to_thread(decode_lines, data, "<stdin>", args.encoding, args.max_line_chars)
        sources.append(Source(Path("<stdin>"), len(lines), len(data), lines))
    prompts = (
        await asyncio.to_thread(
            probe_prompts,
            dataset,
            args.eval_pool_size or DEFAULT_EVAL_POOL,
            args.eval_samples or DEFAULT_EVAL_SAMPLES,
            args.encoding,
            args.max_line_chars,
        )
        if dataset
        else []
    )
    progress = Progress(sum(s.size for s in sources))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    async with await open_store(args.db, cold_url=args.cold_url) as store:
        model = await resolve_model(store, args.model, args.order, args.tokenizer, args.reset)
        session = TrainSession(store, model, args, reading, progress, (str(dataset), prompts))
        try:
            for source in sources:
                await session.ingest(source)
            await session.commit()
            await session.refresh_vectors()
        except (asyncio.CancelledError, KeyboardInterrupt):
            if session.reports:
                progress.log(
                    f"stopped: {len(session.reports)} chunks went live; build {session.reports[-1].build} serves"
                )
            raise
        finally:
            progress.close()
    reports = session.reports
    if not reports:
        raise DbslmError(f"nothing to train: no input has at least {model.order} tokens")
    last = reports[-1]
    grams = ", ".join(f"{n}-grams {c:,}" for n, c in last.ngrams.items())
    builds = f" in {len(reports)} batches" if len(reports) > 1 else ""
    print(
        f"model {last.model!r} (build {last.build}): {sum(r.sentences for r in reports):,} sentences, "
        f"{sum(r.tokens for r in reports):,} tokens added{builds}; {grams}; "
        f"{sum(r.seconds for r in reports):.2f} s"
    )
    _report_probes(session.prober, args, started)
    return 0


def _probe_dataset(args: argparse.Namespace) -> Path | None:
    """The dataset of the interval probes, refusing probe options that would do nothing."""
    if args.eval_interval is None:
        given = [
            flag
            for flag, value in (
                ("--eval-samples", args.eval_samples),
                ("--eval-dataset", args.eval_dataset),
                ("--eval-pool-size", args.eval_pool_size),
            )
            if value is not None
        ]
        if given:
            raise DbslmError(f"{', '.join(given)}: probes need --eval-interval TOKENS")
        return None
    name = args.eval_dataset or load_settings().dataset_path
    if not name:
        raise DbslmError("--eval-interval needs prompts: pass --eval-dataset FILE or set DBSLM_DATASET_PATH")
    path = Path(name)
    if not path.is_file():
        raise DbslmError(f"{path}: no such file (the probe dataset)")
    return path


def _check_export(name: str | None) -> None:
    """Refuse, before training, a --metrics-export file that could not be written."""
    if name in (None, "-"):
        return
    folder = Path(name).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DbslmError(f"{name}: cannot write the metrics: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK) or Path(name).is_dir():
        raise DbslmError(f"{name}: cannot write the metrics there")


def _report_probes(prober: Prober, args: argparse.Namespace, started: str) -> None:
    """The run-level averages, and the timeline written where --metrics-export says."""
    if prober.probes:
        print(f"probes: {len(prober.probes)}; run averages: {describe(prober.summary())}")
    if args.metrics_export == "-" or (args.metrics_export is None and not prober.probes):
        return
    path = Path(args.metrics_export or METRICS_FOLDER / f"train-{time.strftime('%Y%m%d-%H%M%S')}.json")
    settings = {k: v for k, v in vars(args).items() if k not in ("run", "db", "command")}
    prober.export(
        path,
        {
            "command": "dbslm train",
            "model": args.model,
            "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "settings": settings,
        },
    )
    print(f"wrote the probe metrics to {path}")
