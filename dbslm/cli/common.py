"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from dbslm.config import load_settings
from dbslm.text.corpus import DEFAULT_MAX_LINE_CHARS


def add_database_options(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    parser.add_argument("--db", default=settings.database, metavar="DB",
                        help=f"SQLite file (created with its folder) (default: {settings.database})")
    parser.add_argument("--model", default=settings.model, metavar="NAME",
                        help=f"model to use (default: {settings.model})")


def add_text_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="encoding of the input files (default: utf-8)")
    parser.add_argument("--max-line-chars", type=positive_int, default=DEFAULT_MAX_LINE_CHARS, metavar="N",
                        help=f"refuse lines longer than N characters (default: {DEFAULT_MAX_LINE_CHARS:,})")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def token_count(sentences: Iterable[list[str]]) -> int:
    return sum(len(s) for s in sentences)
