"""The commands, the same on every platform: /help /correct /history /stats /forget /train /flush.

Refusals and errors are sent with ``private=True``: platforms that can show a reply to its
caller alone (Discord's ephemeral interaction responses) do so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Protocol

from bot.events import Attachment, Message
from bot.settings import BotSettings
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.text.corpus import TEXT_SUFFIXES, decode_lines
from dbslm.text.dialogs import DIALOG_SUFFIXES, parse_pairs



class Send(Protocol):
    """Post a reply where the command or message came from (to its caller alone if private)."""

    async def __call__(self, text: str, *, private: bool = False) -> None: ...


log = logging.getLogger(__name__)
FORGET_CONFIRM_SECONDS = 120
HELP = ("I learn from text and from your corrections. Commands: /correct <better answer> (fix my last "
        "reply here), /history [n], /stats, /forget (delete everything you told me), /help; admins: "
        "/train with a .txt, .json, .ndjson or .yml file (or text after the command), /flush [n] "
        "(move up to n cold contexts to MariaDB).")
ADMIN_COMMANDS = frozenset({"/train", "/flush"})


class Commands:
    def __init__(self, engine: DBSLMEngine, settings: BotSettings,
                 conversation_for: Callable[[Message], Awaitable[int]]) -> None:
        self.engine = engine
        self.settings = settings
        self.conversation_for = conversation_for
        self._forget_requests: dict[str, float] = {}
        self._training: set[asyncio.Task] = set()

    def is_admin(self, message: Message) -> bool:
        return message.is_admin or message.user_key in self.settings.admins

    async def run(self, message: Message, send: Send) -> None:
        name, _, rest = message.text.strip().partition(" ")
        name = name.lower()
        handler = {"/help": self.help, "/correct": self.correct, "/history": self.history, "/stats": self.stats,
                   "/forget": self.forget, "/train": self.train, "/flush": self.flush}.get(name)
        if handler is None:
            await send(f"I don't know the command {name[:40]}. {HELP}", private=True)
            return
        if name in ADMIN_COMMANDS and not self.is_admin(message):
            await send(f"Only admins can use {name}.", private=True)
            return
        try:
            await handler(message, rest.strip(), send)
        except DbslmError as exc:
            await send(str(exc), private=True)

    async def help(self, message: Message, rest: str, send: Send) -> None:
        await send(HELP)

    async def correct(self, message: Message, rest: str, send: Send) -> None:
        conversation = await self.conversation_for(message)
        await self.engine.record_correction(conversation, rest, user_id=message.user_key)
        await send((await self.engine.acknowledge(conversation, rest)).text)

    async def history(self, message: Message, rest: str, send: Send) -> None:
        count = int(rest) if rest.isdigit() else 10
        messages = await self.engine.history(await self.conversation_for(message), max(1, min(count, 50)))
        await send("\n".join(f"[{m.role}] {m.text}" for m in messages) or "We have not talked here yet.")

    async def stats(self, message: Message, rest: str, send: Send) -> None:
        stats = await self.engine.stats()
        if not stats["trained"]:
            await send(f"Model {stats['model']!r} has not been trained yet.")
            return
        grams = ", ".join(f"{n}-grams {c:,}" for n, c in sorted(stats["ngrams"].items()))
        await send(f"Model {stats['model']!r}: order {stats['order']}, {stats['tokenizer']} tokenizer; {grams}.")

    async def forget(self, message: Message, rest: str, send: Send) -> None:
        asked = self._forget_requests.pop(message.user_key, None)
        if rest.lower() != "confirm" or asked is None or time.monotonic() - asked > FORGET_CONFIRM_SECONDS:
            self._forget_requests[message.user_key] = time.monotonic()
            await send("This deletes every message, correction and conversation of yours that I keep. "
                       "Send /forget confirm within two minutes to go ahead.")
            return
        removed = await self.engine.forget_user(message.user_key)
        await send("Done: I deleted " + ", ".join(f"{n} {table}" for table, n in removed.items()) + ".")

    async def train(self, message: Message, rest: str, send: Send) -> None:
        uploads = list(message.attachments)
        if rest:
            uploads.append(Attachment("message.txt", rest.encode("utf-8")))
        if not uploads:
            await send("Attach a .txt, .json, .ndjson or .yml file to /train, or put the text after it.",
                       private=True)
            return
        limit = int(self.settings.max_upload_mb * 2**20)
        for upload in uploads:
            if len(upload.data) > limit:
                await send(f"{upload.name} is larger than the {self.settings.max_upload_mb:g} MB limit.",
                           private=True)
                return
            if PurePath(upload.name).suffix.lower() not in TEXT_SUFFIXES + DIALOG_SUFFIXES:
                await send(f"I can't train on {upload.name}: send .txt, .json, .ndjson or .yml files.",
                           private=True)
                return
        task = asyncio.create_task(self._train(uploads, message.user_key, send))
        self._training.add(task)
        task.add_done_callback(self._training.discard)
        await send(f"Training on {', '.join(u.name for u in uploads)} in the background; I keep answering meanwhile.")

    async def _train(self, uploads: list[Attachment], user_key: str, send: Send) -> None:
        try:
            for upload in uploads:
                path = PurePath(upload.name)
                if path.suffix.lower() in DIALOG_SUFFIXES:
                    pairs = await asyncio.to_thread(parse_pairs, upload.data, path)
                    report = await self.engine.train_dialog(pairs, source=f"upload:{upload.name}", user_id=user_key)
                else:
                    lines = await asyncio.to_thread(decode_lines, upload.data, upload.name)
                    report = await self.engine.train_text(lines)
                grams = ", ".join(f"{n}-grams {c:,}" for n, c in report.ngrams.items())
                await send(f"Trained on {upload.name}: {report.tokens:,} tokens; the model now has {grams} "
                           f"({report.seconds:.1f} s).")
        except DbslmError as exc:
            await send(f"Training failed, nothing changed: {exc}")
        except Exception:  # a background task: report it here, or nobody sees it
            log.exception("training from an upload failed")
            await send("Training failed with an internal error; nothing changed. The bot's log has the details.")

    async def flush(self, message: Message, rest: str, send: Send) -> None:
        if self.settings.cold_url is None:
            await send("No MariaDB is configured for cold storage: set DBSLM_MARIADB_HOST (and its user, "
                       "password and database) to use /flush.", private=True)
            return
        if rest and not (rest.isdigit() and int(rest) > 0):
            await send("Usage: /flush [n], n a positive number of contexts.", private=True)
            return
        report = await self.engine.flush(self.settings.cold_url, int(rest) if rest else self.settings.flush_batch)
        await send(f"Moved {report.contexts:,} cold contexts ({report.rows:,} n-grams) to MariaDB; "
                   "I answer from them as before.")

    async def wait_for_training(self) -> None:
        """Let background trainings finish (shutdown)."""
        if self._training:
            await asyncio.gather(*self._training, return_exceptions=True)
