"""``dbslm migrate``: move a SQLite database to MariaDB, as a SQL file or straight in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dbslm.cli.common import written_whole
from dbslm.config import load_settings
from dbslm.errors import DbslmError
from dbslm.store import open_database, open_store
from dbslm.store.dialect import MariaDBDialect
from dbslm.store.transfer import copy_database, dump_database


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm migrate``."""
    parser.description = (
        "Copy every table of a SQLite database to MariaDB, streaming, as portable "
        "MariaDB SQL (--output) and/or straight into a server (--apply)."
    )
    parser.add_argument("--sqlite", metavar="PATH", help="the SQLite database (default: DBSLM_SQLITE_PATH)")
    parser.add_argument("--output", metavar="FILE.sql", help="write MariaDB DDL and data to this file (- for stdout)")
    parser.add_argument("--apply", action="store_true", help="copy into the MariaDB database of --to")
    parser.add_argument(
        "--to",
        dest="target",
        metavar="URL",
        help="target for --apply: mariadb://user:password@host:port/name (default: DBSLM_MARIADB_*)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--drop-existing", action="store_true", help="drop and rebuild the target tables first")
    mode.add_argument(
        "--incremental",
        action="store_true",
        help="upsert rows in place, dropping nothing (a second run changes nothing)",
    )
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if not args.output and not args.apply:
        raise DbslmError("say where to: --output FILE.sql, --apply, or both")
    settings = load_settings()
    source_path = args.sqlite or settings.sqlite_path
    if source_path.startswith(("mariadb://", "mysql://")):
        raise DbslmError("--sqlite takes the path of a SQLite file")
    mode = "drop" if args.drop_existing else "incremental" if args.incremental else "create"

    def report(table: str, rows: int) -> None:
        print(f"{table}: {rows:,} rows", file=sys.stderr, flush=True)

    async with await open_store(source_path, create=False, cold_url=args.cold_url) as source:
        if args.output:
            await _dump(source.db, args.output, mode, report)
        if args.apply:
            target_url = args.target or settings.mariadb_url
            if not target_url.startswith(("mariadb://", "mysql://")):
                raise DbslmError("--apply needs a MariaDB target: --to mariadb://user:password@host:port/name")
            target = await open_database(target_url)
            try:
                copied = await copy_database(source.db, target, mode, report)
            finally:
                await target.close()
            print(f"copied {sum(copied.values()):,} rows to {target.description}")
    return 0


async def _dump(source, output: str, mode: str, report) -> None:
    if output == "-":
        await dump_database(source, sys.stdout, mode, MariaDBDialect(), report)
        return
    path = Path(output)
    with written_whole(path) as partial, open(partial, "w", encoding="utf-8") as out:
        written = await dump_database(source, out, mode, MariaDBDialect(), report)
    print(f"wrote {sum(written.values()):,} rows to {path}")
