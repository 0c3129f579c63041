"""``dbslm backup``: copy a SQLite database, while the bot uses it, into one file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dbslm.cli.common import written_whole
from dbslm.errors import DbslmError
from dbslm.store import open_database
from dbslm.store.cold import flushed_contexts


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm backup``."""
    parser.description = (
        "Copy the whole SQLite database as it is at one moment (SQLite's online backup: "
        "the bot keeps answering and learning meanwhile) into FILE, checked before it takes that "
        "name. A MariaDB database is backed up with mariadb-dump."
    )
    parser.add_argument("target", metavar="FILE", help="the backup file to write")
    parser.add_argument(
        "--db",
        metavar="DB",
        help="the database to back up (default: from DBSLM_BACKEND with DBSLM_SQLITE_PATH or DBSLM_MARIADB_*)",
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if not args.target.strip():
        raise DbslmError("name the backup file: dbslm backup FILE")
    target = Path(args.target)
    if target.is_dir():
        raise DbslmError(f"{target} is a folder: name a file in it (dbslm backup {target / 'dbslm.sqlite3'})")
    if target.exists() and not args.force:
        raise DbslmError(f"{target} exists: pass --force to replace it")
    started = time.perf_counter()
    db = await open_database(args.db, create=False)
    try:
        if target.exists() and Path(db.description).exists() and target.samefile(db.description):
            raise DbslmError(f"{target} is the database itself: name another file")
        with written_whole(target, "the backup") as partial:
            partial.unlink(missing_ok=True)  # a partial copy an earlier run left
            await db.backup(partial)
        flushed = await flushed_contexts(db)
    finally:
        await db.close()
    if flushed:
        print(
            f"note: {flushed:,} contexts of this database live in its MariaDB cold tier (dbslm flush); "
            "back that database up too (mariadb-dump)",
            file=sys.stderr,
        )
    size_mb, seconds = target.stat().st_size / 2**20, time.perf_counter() - started
    print(f"backed up {db.description} to {target} ({size_mb:,.1f} MB) in {seconds:.2f} s")
    return 0
