"""Lines typed at a terminal (or piped in), for an asyncio program.

A daemon thread reads standard input's file descriptor with ``os.read``, so neither Ctrl-C nor
a stop waits for the next Enter: the program leaves at once, and the thread (which holds no
Python lock while it waits, unlike ``input()``) ends with the process.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import sys
import threading
from collections.abc import AsyncIterator

CHUNK_BYTES = 1 << 16


async def lines(prompt: str = "") -> AsyncIterator[str]:
    """Standard input line by line, without newlines, until it ends; ``prompt`` is written
    before each wait for a line when standard input is a terminal. Undecodable bytes read as
    U+FFFD."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no standard input (a test runner's stand-in)
        return
    prompt = prompt if os.isatty(fd) else ""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    def read() -> None:
        chunk = b"-"
        while chunk:
            try:
                chunk = os.read(fd, CHUNK_BYTES)
            except OSError:
                chunk = b""
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: nobody reads any more
                return

    threading.Thread(target=read, name="standard-input", daemon=True).start()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending, ended = "", False
    while not ended or pending:
        if "\n" not in pending and not ended:
            if prompt:
                sys.stdout.write(prompt)
                sys.stdout.flush()
            while "\n" not in pending and not ended:
                chunk = await chunks.get()
                ended = not chunk
                pending += decoder.decode(chunk, final=ended)
        line, newline, pending = pending.partition("\n")
        if line or newline:
            yield line.removesuffix("\r")
