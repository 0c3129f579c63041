"""``dbslm flush``: move a SQLite database's coldest contexts to MariaDB."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dbslm.admin import flush
from dbslm.cli.common import positive_int
from dbslm.config import load_settings
from dbslm.errors import DbslmError
from dbslm.store import open_store


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm flush``."""
    parser.description = (
        "When the SQLite file is larger than the threshold, move up to BATCH of the "
        "model's coldest contexts (lowest total count) to MariaDB: copy, verify, then "
        "delete locally. Look-ups follow them, so the model answers the same."
    )
    parser.add_argument("--db", metavar="PATH", help="the SQLite database (default: DBSLM_SQLITE_PATH)")
    parser.add_argument(
        "--to",
        dest="target",
        metavar="URL",
        help="MariaDB for cold storage: mariadb://user:password@host:port/name (default: DBSLM_MARIADB_*)",
    )
    parser.add_argument("--model", metavar="NAME", help="model to flush (default: DBSLM_MODEL or base)")
    parser.add_argument(
        "--batch",
        type=positive_int,
        metavar="N",
        help="contexts to move at most (default: DBSLM_SQLITE_FLUSH_BATCH or 500)",
    )
    parser.add_argument(
        "--threshold-mb",
        type=float,
        metavar="MB",
        help="flush only above this size (default: DBSLM_SQLITE_FLUSH_THRESHOLD_MB or 1024)",
    )
    parser.add_argument("--force", action="store_true", help="flush whatever the size")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = args.db or settings.sqlite_path
    if path.startswith(("mariadb://", "mysql://")):
        raise DbslmError("flush moves contexts out of a SQLite database: --db takes its path")
    file = Path(path.removeprefix("sqlite:///"))
    if not file.is_file():
        raise DbslmError(f"no database at {file}")
    size_mb = sum(p.stat().st_size for p in (file, Path(f"{file}-wal")) if p.exists()) / 2**20
    threshold = args.threshold_mb if args.threshold_mb is not None else settings.flush_threshold_mb
    if size_mb <= threshold and not args.force:
        print(
            f"{file} is {size_mb:,.1f} MB, not above the threshold of {threshold:,.0f} MB: nothing to flush "
            "(--force flushes anyway)"
        )
        return 0
    name = args.model or settings.model
    async with await open_store(path, create=False, cold_url=args.cold_url) as store:
        report = await flush(
            store,
            name,
            args.target or args.cold_url,
            args.batch or settings.flush_batch,
            lambda stage: print(f"{stage} ...", file=sys.stderr, flush=True),
        )
        where = store.cold.remote.description
    print(f"moved {report.contexts:,} contexts ({report.rows:,} n-grams) of model {name!r} to {where}")
    return 0
