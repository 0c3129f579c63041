"""The console adapter: the bot in a terminal, and a scriptable harness for tests.

Each line is a message in one DM-like channel; ``/train PATH`` attaches the file at PATH.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.core import BotCore
from bot.events import Attachment, Message
from dbslm.terminal import lines as stdin_lines

PLATFORM = "console"
FILE_SUFFIXES = (".txt", ".json", ".ndjson", ".jsonl", ".yml", ".yaml")  # what /train reads


def _named_file(text: str) -> Path | None:
    """The file a ``/train`` line names: one word that looks like a path (it has a slash or a
    file suffix, or names something that exists); other text after /train is text to learn."""
    argument = text[len("/train ") :].strip() if text.startswith("/train ") else ""
    if not argument or " " in argument:
        return None
    path = Path(argument).expanduser()
    looks_like_a_path = "/" in argument or argument.lower().endswith(FILE_SUFFIXES) or path.exists()
    return path if looks_like_a_path else None


def _read_file(path: Path) -> bytes:
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder, not a file")
    return path.read_bytes()


class ConsoleAdapter:
    def __init__(
        self, core: BotCore, user: str = "operator", admin: bool = True, write: Callable[[str], None] = print
    ) -> None:
        self.core = core
        self.user = user
        self.admin = admin
        self.write = write

    async def handle_line(self, line: str) -> None:
        """Treat one typed line as a message and print what the bot answers."""
        attachments: tuple[Attachment, ...] = ()
        text = line.rstrip("\n")
        path = _named_file(text)
        if path is not None:
            try:
                attachments = (Attachment(path.name, await asyncio.to_thread(_read_file, path)),)
            except OSError as exc:
                self.write(
                    f"bot> /train: {path}: {exc.strerror or 'cannot read it'}; name a readable file "
                    "(or give the text to learn after /train)"
                )
                return
            text = "/train"
        message = Message(
            PLATFORM, "local", "console", self.user, text, is_dm=True, is_admin=self.admin, attachments=attachments
        )

        async def send(reply: str, *, private: bool = False) -> None:
            self.write(f"bot> {reply}")

        await self.core.handle(message, send, limit=4000)

    async def run(self, lines: AsyncIterator[str] | None = None, stop: asyncio.Event | None = None) -> None:
        """Answer lines (standard input by default) until they end or ``stop`` is set; a reply
        in progress is finished, and so are trainings."""
        stop = stop or asyncio.Event()
        pending = (lines or stdin_lines()).__aiter__()
        while not stop.is_set():
            next_line = asyncio.ensure_future(pending.__anext__())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({next_line, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not next_line.done():
                next_line.cancel()
                break
            try:
                line = next_line.result()
            except StopAsyncIteration:
                break
            if line.strip():
                await self.handle_line(line)
        await self.core.close()
