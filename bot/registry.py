"""Every command once: its name, typed arguments, who may run it, its help and usage line.

The core parses a typed command's text against its declaration (:func:`parse`) and checks
arguments that a platform sent typed (:func:`checked`); the help text, the admin check,
Discord's command tree and Slack's registration all come from :data:`COMMANDS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dbslm.listening.backfill import DEFAULT_LIMIT, MAX_LIMIT

HISTORY_SHOWN = 50  # /history shows at most this many messages
USER_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)>$")


@dataclass(frozen=True)
class Arg:
    """One argument. In text, arguments come in their declared order:

    - ``choice`` (one of ``choices``): one word; ``int`` (``#12`` too) and
      ``number`` (``15%`` too): one word within ``low`` and ``high``;
    - ``flag``: the argument's own name as a word (``confirm``), True when present;
    - ``user``: a mention of a user, given as the platform's user id;
    - ``text``: the rest of the text; ``file``: an attachment (never in text);
    - ``after`` (for ``int``): the word that introduces it (``history 200``); the number may
      then be left out and is ``default``.
    """

    name: str
    kind: str
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    after: str | None = None
    default: Any = None


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    help: str  # one line: the command lists of help and of the platforms
    usage: str  # the line a malformed use is answered with
    args: tuple[Arg, ...] = ()
    admin: bool = False

    @property
    def slash(self) -> str:
        return f"/{self.name}"


class UsageError(ValueError):
    """A command's arguments do not fit its declaration; the message is its usage line."""


COMMANDS: tuple[Command, ...] = (
    Command(
        "correct",
        "Correct my last reply in this channel",
        "Usage: /correct <the better answer>",
        (Arg("text", "text", "the better answer", required=True),),
    ),
    Command(
        "history",
        "Show this channel's conversation so far",
        f"Usage: /history [n], n from 1 to {HISTORY_SHOWN} messages.",
        (Arg("n", "int", "how many messages (default 10)", low=1, high=HISTORY_SHOWN, default=10),),
    ),
    Command("stats", "Show the model's size", "Usage: /stats"),
    Command(
        "forget",
        "Delete every message, correction and conversation of yours (asks first)",
        "Usage: /forget, then /forget confirm; admins: /forget @member",
        (
            Arg("user", "user", "admins: unlearn this member's messages in this server instead"),
            Arg("confirm", "flag", "true to delete everything you told me"),
        ),
    ),
    Command("optout", "Stop me learning from your messages in this server", "Usage: /optout"),
    Command("optin", "Let me learn from your messages in this server again", "Usage: /optin"),
    Command("help", "What I do and which commands I know", "Usage: /help"),
    Command(
        "train",
        "Train the model on a file, on text or on this channel's history (admins)",
        f"Usage: /train history [n], n from 1 to {MAX_LIMIT:,} messages; or /train with a .txt, .json, "
        ".ndjson or .yml file, or with text after it.",
        (
            Arg("file", "file", "a .txt, .json, .ndjson or .yml file"),
            Arg(
                "history",
                "int",
                "learn this channel's last n messages instead",
                low=1,
                high=MAX_LIMIT,
                after="history",
                default=DEFAULT_LIMIT,
            ),
            Arg("text", "text", "text to train on"),
        ),
        admin=True,
    ),
    Command(
        "listen",
        "Learn from this channel's messages, or stop (admins)",
        "Usage: /listen on|off",
        (
            Arg(
                "state",
                "choice",
                "on: learn from this channel's messages; off: stop",
                required=True,
                choices=("on", "off"),
            ),
        ),
        admin=True,
    ),
    Command(
        "chance",
        "How often I answer in this channel without being mentioned (admins)",
        "Usage: /chance <percent>, a number from 0 to 100.",
        (
            Arg(
                "percent",
                "number",
                "how many of the messages that do not mention me I answer, 0 to 100",
                required=True,
                low=0,
                high=100,
            ),
        ),
        admin=True,
    ),
    Command(
        "ban",
        "Words I never learn and never say here (admins)",
        "Usage: /ban add <words>, /ban remove <words> or /ban list",
        (
            Arg(
                "action",
                "choice",
                "add or remove words, or list the banned ones",
                required=True,
                choices=("add", "remove", "list"),
            ),
            Arg("words", "text", "the words"),
        ),
        admin=True,
    ),
    Command(
        "flush",
        "Move the coldest contexts to MariaDB (admins)",
        "Usage: /flush [n], n a positive number of contexts.",
        (Arg("n", "int", "how many cold contexts to move at most", low=1),),
        admin=True,
    ),
    Command("corrections", "The corrections waiting for approval here (admins)", "Usage: /corrections", admin=True),
    Command(
        "approve",
        "Approve a correction: it applies everywhere and is learned (admins)",
        "Name the correction by its number: /approve <id> (see /corrections).",
        (Arg("number", "int", "the correction's number, from /corrections", required=True, low=1),),
        admin=True,
    ),
    Command(
        "reject",
        "Reject a correction: it no longer applies anywhere (admins)",
        "Name the correction by its number: /reject <id> (see /corrections).",
        (Arg("number", "int", "the correction's number, from /corrections", required=True, low=1),),
        admin=True,
    ),
)
BY_NAME = {c.slash: c for c in COMMANDS}


def help_text() -> str:
    """What the bot does and every command, one line each."""
    lines = [f"{c.slash}: {c.help}" for c in COMMANDS]
    return "I learn from text and from your corrections. Commands:\n" + "\n".join(lines)


def parse(command: Command, text: str) -> dict[str, Any]:
    """The arguments of ``command`` in the text typed after it; :class:`UsageError` when it does
    not fit."""
    words, found = text.split(), {}
    for arg in command.args:
        if arg.kind == "text":
            found[arg.name], words = " ".join(words) or None, []
        elif arg.kind == "flag":
            found[arg.name] = bool(words) and words[0].lower() == arg.name
            words = words[found[arg.name] :]
        elif arg.kind == "user":
            mention = USER_MENTION.match(words[0]) if words else None
            found[arg.name], words = (mention.group(1), words[1:]) if mention else (None, words)
        elif arg.after is not None:
            present = bool(words) and words[0].lower() == arg.after
            words = words[present:]
            found[arg.name] = None if not present else arg.default if not words else _value(command, arg, words[0])
            words = words[present and bool(words) :]
        elif arg.kind != "file":
            found[arg.name], words = (_value(command, arg, words[0]), words[1:]) if words else (None, words)
    if words:
        raise UsageError(command.usage)
    return checked(command, found)


def checked(command: Command, args: dict[str, Any]) -> dict[str, Any]:
    """``args`` completed with the defaults, once each is within its declaration (a platform's
    own checks are not trusted); :class:`UsageError` otherwise."""
    out = {}
    for arg in command.args:
        if arg.kind == "file":  # attachments come with the message
            continue
        value = args.get(arg.name)
        if value is None:
            if arg.required:
                raise UsageError(command.usage)
            value = False if arg.kind == "flag" else None if arg.after else arg.default
        elif not _fits(arg, value):
            raise UsageError(command.usage)
        out[arg.name] = value.lower() if arg.kind == "choice" and value is not None else value
    return out


def _fits(arg: Arg, value: Any) -> bool:
    """Whether a given ``value`` is one ``arg`` takes."""
    if arg.kind == "choice":
        return isinstance(value, str) and value.lower() in arg.choices
    if arg.kind in ("int", "number"):
        kinds = (int,) if arg.kind == "int" else (int, float)
        return (
            isinstance(value, kinds)
            and not isinstance(value, bool)
            and value == value
            and (arg.low is None or value >= arg.low)
            and (arg.high is None or value <= arg.high)
        )
    if arg.kind == "flag":
        return isinstance(value, bool)
    return isinstance(value, str) if arg.kind in ("text", "user") else True


def _value(command: Command, arg: Arg, word: str) -> Any:
    """One word as ``arg``'s type."""
    try:
        if arg.kind == "int":
            number = word.removeprefix("#")
            if not number.isdigit() or len(number) > 18:
                raise ValueError(word)
            return int(number)
        if arg.kind == "number":
            value = float(word.removesuffix("%"))
            if value != value:  # NaN
                raise ValueError(word)
            return value
    except ValueError:
        raise UsageError(command.usage) from None
    return word
