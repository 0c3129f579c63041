"""The ``dbslm`` command: one subcommand per module, errors as one line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import traceback

from dbslm import __version__
from dbslm.cli import arpa, backup, chat, eval_dialog, evaluate, flush, migrate, train
from dbslm.cli.common import resolve_defaults
from dbslm.errors import DbslmError

COMMANDS = (chat, train, evaluate, eval_dialog, arpa, migrate, flush, backup)
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_INTERNAL = 1, 2, 130, 70
INTERRUPTED = "interrupted; no half-written build went live"  # a command's ``interrupted`` default may say otherwise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbslm", description="A chat bot whose whole language model lives in database tables."
    )
    parser.add_argument("--version", action="version", version=f"dbslm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    gc.freeze()  # what the imports made lives as long as the process: no collection need walk it again
    try:
        resolve_defaults(args)
        return asyncio.run(args.run(args)) or 0
    except DbslmError as exc:
        return _fail(f"error: {exc}", EXIT_ERROR)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the line the ^C was typed on
        message = getattr(args, "interrupted", INTERRUPTED)
        return _fail(message, EXIT_INTERRUPTED) if message else EXIT_INTERRUPTED
    except MemoryError:
        return _fail("out of memory; try a smaller input or a lower order", EXIT_ERROR)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        if os.environ.get("DBSLM_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error: {type(exc).__name__}: {exc} (DBSLM_DEBUG=1 shows details)", EXIT_INTERNAL)


def _fail(message: str, code: int) -> int:
    print(f"dbslm: {message}", file=sys.stderr)
    return code
