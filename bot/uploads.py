"""/train with uploaded files (or text): checked at once, trained in the background."""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePath

from bot.events import Attachment, Send
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.text.corpus import TEXT_SUFFIXES, decode_lines
from dbslm.text.dialogs import DIALOG_SUFFIXES, parse_pairs

log = logging.getLogger(__name__)


class Uploads:
    def __init__(self, max_upload_mb: float) -> None:
        self.max_upload_mb = max_upload_mb
        self._training: set[asyncio.Task] = set()

    def refusal(self, upload: Attachment) -> str | None:
        """Why ``upload`` cannot be trained on, or None."""
        if len(upload.data) > self.max_upload_mb * 2**20:
            return f"{upload.name} is larger than the {self.max_upload_mb:g} MB limit."
        if PurePath(upload.name).suffix.lower() not in TEXT_SUFFIXES + DIALOG_SUFFIXES:
            return f"I can't train on {upload.name}: send .txt, .json, .ndjson or .yml files."
        return None

    def start(self, engine: DBSLMEngine, uploads: list[Attachment], user_key: str, send: Send) -> None:
        """Train ``engine``'s model on the uploads in the background, reporting through ``send``."""
        task = asyncio.create_task(self._train(engine, uploads, user_key, send))
        self._training.add(task)
        task.add_done_callback(self._training.discard)

    async def _train(self, engine: DBSLMEngine, uploads: list[Attachment], user_key: str, send: Send) -> None:
        try:
            for upload in uploads:
                path = PurePath(upload.name)
                if path.suffix.lower() in DIALOG_SUFFIXES:
                    pairs = await asyncio.to_thread(parse_pairs, upload.data, path)
                    report = await engine.train_dialog(pairs, source=f"upload:{upload.name}", user_id=user_key)
                else:
                    lines = await asyncio.to_thread(decode_lines, upload.data, upload.name)
                    report = await engine.train_text(lines)
                grams = ", ".join(f"{n}-grams {c:,}" for n, c in report.ngrams.items())
                await send(f"Trained on {upload.name}: {report.tokens:,} tokens; the model now has {grams} "
                           f"({report.seconds:.1f} s).")
        except DbslmError as exc:
            await send(f"Training failed, nothing changed: {exc}")
        except Exception:  # a background task: report it here, or nobody sees it
            log.exception("training from an upload failed")
            await send("Training failed with an internal error; nothing changed. The bot's log has the details.")

    async def wait(self) -> None:
        """Let background trainings finish (shutdown)."""
        if self._training:
            await asyncio.gather(*self._training, return_exceptions=True)
