"""Files shared on Slack, fetched for /train: size-checked first, downloaded with the bot token."""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.events import Attachment
from bot.uploads import size_refusal

DOWNLOAD_SECONDS = 120
CHUNK_BYTES = 2**16


class UploadRefused(Exception):
    """A shared file the bot cannot take; the message tells its sender why."""


async def fetch_files(client: AsyncWebClient, files: list[dict[str, Any]], max_mb: float) -> tuple[Attachment, ...]:
    """Download Slack file objects as attachments, refusing any whose ``size`` is over ``max_mb``.

    A file shared as a stub (``file_access: check_file_info``) is looked up with files.info. The
    download sends the bot token in the Authorization header, as Slack's private file URLs require.
    """
    objects = [file if _url(file) else await _file_info(client, file["id"]) for file in files]
    limit = int(max_mb * 2**20)
    for file in objects:
        refusal = size_refusal(_name(file), file.get("size", 0), max_mb)
        if refusal:
            raise UploadRefused(refusal)
    session = aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {client.token}"}, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_SECONDS)
    )
    async with session:
        return tuple([Attachment(_name(file), await _download(session, file, limit)) for file in objects])


async def _file_info(client: AsyncWebClient, file_id: str) -> dict[str, Any]:
    try:
        return (await client.files_info(file=file_id))["file"]
    except SlackApiError as exc:
        raise UploadRefused(
            f"Slack did not let me read the file {file_id} ({exc.response.get('error', 'error')})."
        ) from None


async def _download(session: aiohttp.ClientSession, file: dict[str, Any], limit: int) -> bytes:
    """The file's bytes; stops just past ``limit`` (the bot core then refuses the file as too large)."""
    try:
        async with session.get(_url(file)) as response:
            if response.status != 200:
                raise UploadRefused(f"Slack refused to send me {_name(file)} (HTTP {response.status}).")
            data = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                data += chunk
                if len(data) > limit:
                    break
            return bytes(data)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UploadRefused(f"I could not download {_name(file)} from Slack ({type(exc).__name__}).") from None


def _url(file: dict[str, Any]) -> str | None:
    return file.get("url_private_download") or file.get("url_private")


def _name(file: dict[str, Any]) -> str:
    return file.get("name") or file.get("title") or file["id"]
