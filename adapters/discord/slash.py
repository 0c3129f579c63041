"""The bot's commands (``bot.registry``) as Discord application (slash) commands.

Each command's options are its declared arguments, typed as Discord shows and checks them;
its callback hands them to ``run`` by name (a file option as the attachment). Admin commands
are hidden from members without Manage Server; the core checks them again, whatever a
server's overrides allow, and checks every value against the declaration.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from bot.registry import COMMANDS, Arg, Command

Run = Callable[[discord.Interaction, Command, dict[str, Any], discord.Attachment | None], Awaitable[None]]
TYPES: dict[str, Any] = {"text": str, "flag": bool, "user": discord.User, "file": discord.Attachment}


def add_commands(tree: app_commands.CommandTree, run: Run) -> None:
    """Register every command on ``tree``; each calls ``run`` with the interaction, the
    command, its arguments by name (a user as their id) and the attached file, if any."""
    for command in COMMANDS:
        tree.add_command(slash_command(command, run))


def slash_command(command: Command, run: Run) -> app_commands.Command:
    """``command`` as discord.py's app command (its options from the callback's signature)."""

    async def callback(interaction: discord.Interaction, **options: Any) -> None:
        files = [options.pop(arg.name) for arg in command.args if arg.kind == "file"]
        arguments = {
            name: str(value.id) if isinstance(value, discord.abc.User) else value for name, value in options.items()
        }
        await run(interaction, command, arguments, next((f for f in files if f is not None), None))

    interaction = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
    )
    callback.__signature__ = inspect.Signature([interaction, *map(_parameter, command.args)])  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {a.name: a.help for a in command.args}  # type: ignore
    slash = app_commands.Command(name=command.name, description=command.help, callback=callback)
    return app_commands.default_permissions(manage_guild=True)(slash) if command.admin else slash


def _parameter(arg: Arg) -> inspect.Parameter:
    """The callback parameter that declares ``arg`` as an option."""
    if arg.kind == "choice":
        kind: Any = Literal[arg.choices]
    elif arg.kind in ("int", "number"):
        base = int if arg.kind == "int" else float
        kind = base if arg.low is None and arg.high is None else app_commands.Range[base, arg.low, arg.high]
    else:
        kind = TYPES[arg.kind]
    return inspect.Parameter(
        arg.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=kind,
        default=inspect.Parameter.empty if arg.required else None,
    )  # None: optional
