"""``dbslm chat`` (alias ``run``): talk to a model in the terminal.

A line that starts with ``:`` or ``/`` and a command's name is a command (``:history [N]``,
``:exit``, ``:quit``, ``:help``; ``/correct <better answer>`` corrects the last reply, as in
Discord and Slack), and ``/`` with another word says there is no such command; any other line,
``:)`` or ``:D`` too, is a message. An empty line is skipped, and Ctrl-C or Ctrl-D
leaves. A database without a trained model first has the starter corpus trained
into the chosen one; in a database with models, naming one it lacks is an error.
"""

from __future__ import annotations

import argparse
import re
import sys

from dbslm.cli.common import add_database_options, positive_int, share
from dbslm.config import load_settings
from dbslm.engine import DEFAULT_BASE_WEIGHT, DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.starter import starter_pairs
from dbslm.store import Store, open_store
from dbslm.terminal import lines
from dbslm.training.builds import check_model_name

HELP = "commands: :history [N]  :exit  :quit  :help  /correct <better answer>  (Ctrl-C or Ctrl-D leaves)"
COMMAND = re.compile(r"[:/]([A-Za-z]+)(?:\s+(.*))?", re.DOTALL)  # a command's name and what follows it
COMMANDS = ("history", "correct", "help", "exit", "quit")
HISTORY_SHOWN, HISTORY_MOST = 20, 10_000


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """The options of ``dbslm chat`` (and of its alias ``dbslm run``)."""
    parser.description = __doc__.splitlines()[0]
    add_database_options(parser)
    parser.add_argument("--conversation", type=positive_int, metavar="ID", help="resume a logged conversation")
    parser.add_argument("--user", default="console", help="user id written to the log (default: console)")
    parser.add_argument("--agent", default="dbslm", help="the bot's name in the log (default: dbslm)")
    parser.add_argument("--max-turns", type=positive_int, metavar="N", help="leave after N replies")
    parser.add_argument("--prompt", metavar="TEXT", help="answer TEXT once and exit")
    parser.add_argument("--seed", type=int, help="seed replies (the same seed gives the same reply)")
    parser.add_argument(
        "--no-starter", action="store_true", help="do not train the starter corpus into an untrained model"
    )
    parser.add_argument(
        "--base", metavar="NAME", help="answer as a community model does in the bot: mixed with this base model"
    )
    parser.add_argument(
        "--base-weight",
        type=share,
        default=DEFAULT_BASE_WEIGHT,
        metavar="W",
        help=f"the base model's share with --base, 0 to 1 (default: {DEFAULT_BASE_WEIGHT})",
    )
    parser.set_defaults(run=run, interrupted="")  # Ctrl-C leaves the chat without a word


async def run(args: argparse.Namespace) -> int:
    if args.prompt is not None and not args.prompt.strip():
        raise DbslmError("--prompt is empty: give the text to answer")
    base_name = check_model_name(args.base) if args.base else None
    embedder = load_settings().embedder_model
    store = await open_store(args.db, cold_url=args.cold_url)
    base = DBSLMEngine(store, base_name, embedder=embedder) if base_name else None
    engine = DBSLMEngine(store, args.model, embedder=embedder, base=base, base_weight=args.base_weight)
    try:
        if base is None:  # a community model (with --base) may not have learned anything yet
            await _check_model(store, args.model)
        if base is None and not (await engine.stats())["trained"] and not args.no_starter:
            print(f"model {args.model!r} has not been trained: training it on the starter corpus ...", file=sys.stderr)
            report = await engine.train_dialog(starter_pairs(), source="starter")
            print(f"trained on {report.sentences:,} prompt/response pairs in {report.seconds:.2f} s", file=sys.stderr)
        conversation = await _conversation(engine, args)
        if args.prompt is not None:
            print((await engine.respond(conversation, args.prompt, seed=args.seed, user_id=args.user)).text)
            return 0
        print(f"conversation {conversation} with model {args.model!r} in {store.db.description}; {HELP}")
        await _repl(engine, conversation, args)
    finally:
        await engine.close()
    return 0


async def _check_model(store: Store, name: str) -> None:
    """Refuse a model the database lacks when it has others (a misspelt --model would otherwise
    get a new model trained on the starter corpus, and the conversations seem gone)."""
    trained = await store.models.trained_names()
    if trained and name not in trained and await store.models.model(name) is None:
        raise DbslmError(
            f"no model {name!r} in {store.db.description}; its models: {', '.join(trained)} "
            f"(dbslm train --model {name} FILE creates it)"
        )


async def _conversation(engine: DBSLMEngine, args: argparse.Namespace) -> int:
    if args.conversation is None:
        return await engine.start_conversation(args.user, args.agent)
    if (
        not await engine.history(args.conversation, 1)
        and await engine.conversations.conversation(args.conversation) is None
    ):
        raise DbslmError(f"no conversation {args.conversation} in {engine.store.db.description}")
    return args.conversation


async def _repl(engine: DBSLMEngine, conversation: int, args: argparse.Namespace) -> None:
    turns = 0
    seed = args.seed
    async for line in lines("you> "):
        text = line.strip()
        if not text:
            continue
        command = COMMAND.fullmatch(text)
        name = command[1].lower() if command is not None else ""
        if command is not None and (name in COMMANDS or text.startswith("/")):  # ":D" is a message
            if name in ("exit", "quit"):
                return
            await _command(engine, conversation, name, command[2] or "", args.user)
            continue
        reply = await engine.respond(conversation, line, seed=seed, user_id=args.user)
        print(f"bot> {reply.text}")
        turns += 1
        if turns == args.max_turns:
            return
        seed = None if seed is None else seed + 1
    print()  # Ctrl-D: the next prompt starts on a line of its own


async def _command(engine: DBSLMEngine, conversation: int, name: str, rest: str, user: str) -> None:
    """Run the REPL command ``name`` (given with ``:`` or ``/``) on what follows it."""
    if name == "history":
        await _show_history(engine, conversation, rest.split())
    elif name == "correct":
        try:
            correction = await engine.record_correction(conversation, rest, user_id=user)
            print(f"bot> {(await engine.acknowledge(conversation, rest, correction)).text}")
        except DbslmError as exc:
            print(f"bot> {exc}")
    elif name == "help":
        print(HELP)
    else:
        print(f"no command {name[:40]!r} here; {HELP}")


async def _show_history(engine: DBSLMEngine, conversation: int, words: list[str]) -> None:
    """``:history [N]``: the conversation's last N messages (20 by default), saying when older
    ones are left out."""
    if len(words) > 1 or (words and not (words[0].isdigit() and 1 <= int(words[0]) <= HISTORY_MOST)):
        print(f"usage: :history [N], N from 1 to {HISTORY_MOST:,} (the last N messages)")
        return
    shown = int(words[0]) if words else HISTORY_SHOWN
    messages = await engine.history(conversation, shown + 1)
    if len(messages) > shown:
        last = f"{shown} messages" if shown > 1 else "message"
        print(f"  (the last {last}; :history {min(shown * 5, HISTORY_MOST)} shows more)")
        messages = messages[-shown:]
    for message in messages:
        print(f"  [{message.role}] {message.text}")
