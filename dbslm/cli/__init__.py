"""The ``dbslm`` command: one subcommand per module, errors as one line and an exit code.

Only the module of the command that runs is imported (``dbslm train`` does not load the chat
engine), so every command starts as fast as its own work allows."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import importlib
import os
import sys
import traceback

from dbslm import __version__
from dbslm.cli.common import resolve_defaults
from dbslm.errors import DbslmError

COMMANDS = {  # command: the module of dbslm.cli that adds its options, and what it does
    "chat": ("chat", "chat with a model in the terminal"),
    "run": ("chat", "alias of chat"),
    "train": ("train", "train a model on text files (one sentence per line) and dialog files"),
    "eval": ("evaluate", "perplexity of test text (one sentence per line)"),
    "eval-dialog": ("eval_dialog", "reply metrics on a prompt/response dataset"),
    "export-arpa": ("arpa", "write a model as an ARPA file"),
    "import-arpa": ("arpa", "load an ARPA file (KenLM's or SRILM's) as a model"),
    "migrate": ("migrate", "copy a SQLite database to MariaDB (SQL file or direct)"),
    "flush": ("flush", "move the coldest contexts of a SQLite database to MariaDB"),
    "backup": ("backup", "copy a SQLite database into a file, while the bot goes on using it"),
}
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_INTERNAL = 1, 2, 130, 70
YOUNG_OBJECTS = 100_000  # containers made between two young collections (Python's default: 700)
M_ARENA_MAX = -8  # glibc's mallopt parameter: how many malloc arenas threads may use
INTERRUPTED = "interrupted; no half-written build went live"  # a command's ``interrupted`` default may say otherwise


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of the command line ``argv``: every command is listed, with the options of
    the one that ``argv`` names (of every command without ``argv``)."""
    parser = argparse.ArgumentParser(
        prog="dbslm", description="A chat bot whose whole language model lives in database tables."
    )
    parser.add_argument("--version", action="version", version=f"dbslm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = None if argv is None else next((word for word in argv if not word.startswith("-")), "")
    for name, (module, summary) in COMMANDS.items():
        options = commands.add_parser(name, help=summary)
        if named is None or name == named:
            importlib.import_module(f"dbslm.cli.{module}").add_arguments(options, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    gc.freeze()  # what the imports made lives as long as the process: no collection need walk it again
    # a command makes containers by the hundred thousand (a list of tokens per line) that live
    # until its end and hold no cycle: collected as often as Python's default, they are walked
    # by full collection after full collection (50 ms of an 800k-token training)
    gc.set_threshold(YOUNG_OBJECTS, 20, 10)
    _one_malloc_arena()
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


def _one_malloc_arena() -> None:
    """Have glibc's malloc serve every thread from one arena. By default the threads that
    allocate get arenas of their own (up to eight per core), and memory freed in one arena
    serves only the threads on it; a training's stages run in several threads (reading,
    counting, preparing rows, SQLite's), so its memory was spread over several arenas: peak RSS
    of the 810k-token training 240-262 MB at order 3 against 209-211 MB in one. Elsewhere
    than glibc nothing changes."""
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)  # the C library the interpreter is linked with
    except (OSError, AttributeError, TypeError):  # a C library without mallopt, or none to open (Windows)
        pass


def _fail(message: str, code: int) -> int:
    print(f"dbslm: {message}", file=sys.stderr)
    return code
