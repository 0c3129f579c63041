"""The bot's commands as Discord application (slash) commands.

Each command turns its options back into the text the core parses (``/history 5``) and hands
it to ``run``; the core checks the admin commands again, whatever a server's overrides allow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

Run = Callable[[discord.Interaction, str, discord.Attachment | None], Awaitable[None]]


def add_commands(tree: app_commands.CommandTree, run: Run) -> None:
    """Register /correct /train /flush /history /stats /forget /help on ``tree``; each calls ``run``
    with the interaction, the command as text and the attached file (for /train)."""

    @tree.command(name="correct")
    @app_commands.describe(text="the better answer")
    async def correct(interaction: discord.Interaction, text: str) -> None:
        """Correct my last reply in this channel."""
        await run(interaction, f"/correct {text}", None)

    @tree.command(name="train")
    @app_commands.describe(file="a .txt, .json, .ndjson or .yml file", text="text to train on")
    @app_commands.default_permissions(manage_guild=True)
    async def train(interaction: discord.Interaction, file: discord.Attachment | None = None,
                    text: str | None = None) -> None:
        """Train the model on a file or on text (admins)."""
        await run(interaction, _command("/train", text), file)

    @tree.command(name="flush")
    @app_commands.describe(n="how many cold contexts to move at most")
    @app_commands.default_permissions(manage_guild=True)
    async def flush(interaction: discord.Interaction, n: int | None = None) -> None:
        """Move the coldest contexts to MariaDB (admins)."""
        await run(interaction, _command("/flush", n), None)

    @tree.command(name="history")
    @app_commands.describe(n="how many messages (default 10)")
    async def history(interaction: discord.Interaction, n: int | None = None) -> None:
        """Show this channel's conversation so far."""
        await run(interaction, _command("/history", n), None)

    @tree.command(name="stats")
    async def stats(interaction: discord.Interaction) -> None:
        """Show the model's size."""
        await run(interaction, "/stats", None)

    @tree.command(name="forget")
    @app_commands.describe(confirm="true to delete everything you told me")
    async def forget(interaction: discord.Interaction, confirm: bool = False) -> None:
        """Delete every message, correction and conversation of yours (asks first)."""
        await run(interaction, _command("/forget", "confirm" if confirm else None), None)

    @tree.command(name="help")
    async def help_(interaction: discord.Interaction) -> None:
        """What I do and which commands I know."""
        await run(interaction, "/help", None)


def _command(name: str, argument: object | None) -> str:
    return name if argument is None else f"{name} {argument}"
