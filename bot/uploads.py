"""/train with uploaded files (or text): checked at once, trained in the background."""

from __future__ import annotations

import asyncio
from pathlib import PurePath

from bot.events import Attachment, Send
from dbslm.engine import DBSLMEngine
from dbslm.errors import DbslmError
from dbslm.text.corpus import TEXT_SUFFIXES, decode_lines
from dbslm.text.dialogs import DIALOG_SUFFIXES, parse_pairs


def size_refusal(name: str, size: int, max_mb: float) -> str | None:
    """Why an upload of ``size`` bytes is refused (over the limit), or None; adapters ask it
    before they download anything."""
    return f"{name} is larger than the {max_mb:g} MB limit." if size > max_mb * 2**20 else None


class Uploads:
    def __init__(self, max_upload_mb: float) -> None:
        self.max_upload_mb = max_upload_mb

    def refusal(self, upload: Attachment) -> str | None:
        """Why ``upload`` cannot be trained on, or None."""
        too_large = size_refusal(upload.name, len(upload.data), self.max_upload_mb)
        if too_large:
            return too_large
        if PurePath(upload.name).suffix.lower() not in TEXT_SUFFIXES + DIALOG_SUFFIXES:
            return f"I can't train on {upload.name}: send .txt, .json, .ndjson or .yml files."
        return None

    async def train(self, engine: DBSLMEngine, uploads: list[Attachment], user_key: str, send: Send) -> None:
        """Train ``engine``'s model on the uploads, reporting through ``send``."""
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
                await send(
                    f"Trained on {upload.name}: {report.tokens:,} tokens; the model now has {grams} "
                    f"({report.seconds:.1f} s)."
                )
        except DbslmError as exc:
            await send(f"Training failed, nothing changed: {exc}")
