"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from dbslm.config import load_settings, old_default_note
from dbslm.errors import DbslmError
from dbslm.text.corpus import DEFAULT_MAX_LINE_CHARS


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="DB",
        help="a SQLite file (created with its folder) or mariadb://user:password@host:port/name "
        "(default: from DBSLM_BACKEND with DBSLM_SQLITE_PATH or DBSLM_MARIADB_*)",
    )
    parser.add_argument("--model", metavar="NAME", help="model to use (default: DBSLM_MODEL or base)")


def resolve_defaults(args: argparse.Namespace) -> None:
    """Fill ``--db`` and ``--model`` from the settings where the command line left them out,
    and ``cold_url``: the MariaDB of ``DBSLM_MARIADB_*``, where a SQLite file's flushed
    contexts are."""
    settings = load_settings()
    for option, setting in (("db", "database"), ("model", "model")):
        if option in vars(args) and getattr(args, option) is None:
            setattr(args, option, getattr(settings, setting))
            if option == "db" and (note := old_default_note(settings)):
                print(note, file=sys.stderr)
    args.cold_url = settings.mariadb_url


def add_text_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="encoding of the input files (default: utf-8)")
    parser.add_argument(
        "--max-line-chars",
        type=positive_int,
        default=DEFAULT_MAX_LINE_CHARS,
        metavar="N",
        help=f"refuse lines longer than N characters (default: {DEFAULT_MAX_LINE_CHARS:,})",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def percentage(text: str) -> float:
    """An argparse type: a share in percent, from 0 up to (not including) 100."""
    return _number(text, 0, 100, "a percentage from 0 to below 100", top_included=False)


def share(text: str) -> float:
    """An argparse type: a share from 0 to 1."""
    return _number(text, 0, 1, "a share from 0 to 1", top_included=True)


def _number(text: str, low: float, high: float, what: str, *, top_included: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (low <= value <= high if top_included else low <= value < high):
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Have ``parser`` refuse a bad option in one ``dbslm: error:`` line (exit 2), without the usage."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"dbslm: error: {message} ({parser.prog} --help lists every flag)\n")

    parser.error = error  # type: ignore[method-assign]


def token_count(sentences: Iterable[list[str]]) -> int:
    return sum(len(s) for s in sentences)


@contextmanager
def written_whole(path: Path, what: str = "") -> Iterator[Path]:
    """The file to write in place of ``path``: it replaces ``path`` when the block ends, and is
    removed if the block fails, so an interrupted run never leaves half a file. A file that
    cannot be written is a one-line :class:`DbslmError` (``what`` names what was written)."""
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield partial
        partial.replace(path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DbslmError(f"{path}: cannot write{' ' + what if what else ''}: {exc.strerror or exc}") from None
        raise
