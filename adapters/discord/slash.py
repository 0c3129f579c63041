"""The bot's commands as Discord application (slash) commands.

Each command turns its options back into the text the core parses (``/history 5``) and hands
it to ``run``; the core checks the admin commands again, whatever a server's overrides allow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import discord
from discord import app_commands

from bot.backfill import MAX_LIMIT

Run = Callable[[discord.Interaction, str, discord.Attachment | None], Awaitable[None]]


def add_commands(tree: app_commands.CommandTree, run: Run) -> None:
    """Register the bot's commands on ``tree``; each calls ``run`` with the interaction, the
    command as text and the attached file (for /train). Admin commands (/train /flush /listen
    /chance /ban /corrections /approve /reject) are hidden from members without Manage Server."""

    @tree.command(name="correct")
    @app_commands.describe(text="the better answer")
    async def correct(interaction: discord.Interaction, text: str) -> None:
        """Correct my last reply in this channel."""
        await run(interaction, f"/correct {text}", None)

    @tree.command(name="train")
    @app_commands.describe(file="a .txt, .json, .ndjson or .yml file", text="text to train on",
                           history="learn this channel's last n messages instead")
    @app_commands.default_permissions(manage_guild=True)
    async def train(interaction: discord.Interaction, file: discord.Attachment | None = None,
                    text: str | None = None, history: app_commands.Range[int, 1, MAX_LIMIT] | None = None) -> None:
        """Train the model on a file, on text or on this channel's history (admins)."""
        if history is not None and (file or text):
            await interaction.response.send_message("Give /train a file or text, or history, not both.",
                                                    ephemeral=True)
            return
        await run(interaction, _command("/train", text if history is None else f"history {history}"), file)

    @tree.command(name="corrections")
    @app_commands.default_permissions(manage_guild=True)
    async def corrections(interaction: discord.Interaction) -> None:
        """The corrections waiting for approval in this server (admins)."""
        await run(interaction, "/corrections", None)

    @tree.command(name="approve")
    @app_commands.describe(number="the correction's number, from /corrections")
    @app_commands.default_permissions(manage_guild=True)
    async def approve(interaction: discord.Interaction, number: app_commands.Range[int, 1]) -> None:
        """Approve a correction: it applies everywhere and is learned (admins)."""
        await run(interaction, f"/approve {number}", None)

    @tree.command(name="reject")
    @app_commands.describe(number="the correction's number, from /corrections")
    @app_commands.default_permissions(manage_guild=True)
    async def reject(interaction: discord.Interaction, number: app_commands.Range[int, 1]) -> None:
        """Reject a correction: it no longer applies anywhere (admins)."""
        await run(interaction, f"/reject {number}", None)

    @tree.command(name="listen")
    @app_commands.describe(state="on: learn from this channel's messages; off: stop")
    @app_commands.default_permissions(manage_guild=True)
    async def listen(interaction: discord.Interaction, state: Literal["on", "off"]) -> None:
        """Learn from this channel's messages, or stop (admins)."""
        await run(interaction, f"/listen {state}", None)

    @tree.command(name="chance")
    @app_commands.describe(percent="how many of the messages that do not mention me I answer, 0 to 100")
    @app_commands.default_permissions(manage_guild=True)
    async def chance(interaction: discord.Interaction, percent: app_commands.Range[float, 0, 100]) -> None:
        """How often I answer in this channel without being mentioned (admins)."""
        await run(interaction, f"/chance {percent:g}", None)

    @tree.command(name="ban")
    @app_commands.describe(action="add or remove words, or list the banned ones", words="the words")
    @app_commands.default_permissions(manage_guild=True)
    async def ban(interaction: discord.Interaction, action: Literal["add", "remove", "list"],
                  words: str | None = None) -> None:
        """Words I never learn and never say here (admins)."""
        await run(interaction, _command(f"/ban {action}", words), None)

    @tree.command(name="optout")
    async def optout(interaction: discord.Interaction) -> None:
        """Stop me learning from your messages in this server."""
        await run(interaction, "/optout", None)

    @tree.command(name="optin")
    async def optin(interaction: discord.Interaction) -> None:
        """Let me learn from your messages in this server again."""
        await run(interaction, "/optin", None)

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
    @app_commands.describe(confirm="true to delete everything you told me",
                           user="admins: unlearn this member's messages in this server instead")
    async def forget(interaction: discord.Interaction, confirm: bool = False, user: discord.User | None = None) -> None:
        """Delete every message, correction and conversation of yours (asks first)."""
        await run(interaction, _command("/forget", f"<@{user.id}>" if user else "confirm" if confirm else None), None)

    @tree.command(name="help")
    async def help_(interaction: discord.Interaction) -> None:
        """What I do and which commands I know."""
        await run(interaction, "/help", None)


def _command(name: str, argument: object | None) -> str:
    return name if argument is None else f"{name} {argument}"
