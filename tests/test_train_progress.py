"""The progress of ``dbslm train``: a tqdm bar over the bytes of input read on a terminal, plain
lines elsewhere, and an interrupted run's stop message on a line of its own either way."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from tqdm import tqdm

from dbslm.text.dialogs import READ_BYTES, stream_pairs
from tests.helpers import table_rows

STATUS = re.compile(r"([\d,]+)/([\d,]+) bytes read, ([\d,]+) tokens, [\d,]+ tokens/s")
STAGE = re.compile(
    r"(reading the current counts|counting and estimating|writing [\d,]+ n-grams"
    r"|counting word vectors) \.\.\."
)
STOPPED = "dbslm: interrupted; no half-written build went live"


def rows_file(path: Path, n: int) -> Path:
    """``n`` prompt/response rows of 8 tokens each (about 70 bytes a row)."""
    path.write_text(
        "".join(
            json.dumps({"prompt": f"question number {i}?", "response": f"answer zeta{i} here."}) + "\n"
            for i in range(n)
        )
    )
    return path


def train(db: Path, *argv: object, terminal: bool, interrupt_at: bytes | None = None) -> tuple[int, str, str]:
    """Run ``dbslm train`` with standard error on a 120-column terminal or on a pipe: its exit
    code, standard output and standard error. With ``interrupt_at``, Ctrl-C (SIGINT) once standard
    error shows it."""
    reader, writer = pty.openpty() if terminal else os.pipe()
    if terminal:
        fcntl.ioctl(writer, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbslm", "train", *map(str, argv), "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=writer,
        )
        os.close(writer)
        err = b""
        while chunk := _read(reader):
            err += chunk
            if interrupt_at and interrupt_at in err:
                proc.send_signal(signal.SIGINT)
                interrupt_at = None
        out = proc.stdout.read()
        return proc.wait(timeout=60), out.decode(), err.decode()
    finally:
        os.close(reader)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal closed
        return b""


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_plain_lines_count_the_bytes_read_when_stderr_is_not_a_terminal(tmp_path):
    dialog = rows_file(tmp_path / "rows.ndjson", 3000)  # about 210 KB: read in several pieces
    text = tmp_path / "lines.txt"
    text.write_text("the keeper climbs the stairs\n" * 5)
    code, out, err = train(tmp_path / "m.sqlite3", dialog, text, "--json-chunk-size", "1000", terminal=False)
    assert code == 0 and "in 4 batches" in out, err
    lines = err.splitlines()
    assert [line for line in lines if not STATUS.fullmatch(line) and not STAGE.fullmatch(line)] == [], err
    builds = [STATUS.fullmatch(line).groups() for line in lines if STATUS.fullmatch(line)]
    read, totals, tokens = ([number(b[i]) for b in builds] for i in range(3))
    dialog_size, text_size = dialog.stat().st_size, text.stat().st_size
    assert set(totals) == {dialog_size + text_size}
    # the dialog file is counted as it is read, every byte by its last chunk; then the text file
    assert 0 < read[0] < read[1] < read[2] == dialog_size and read[3] == dialog_size + text_size
    assert tokens == [8000, 16000, 24000, 24025]
    assert lines[-1] == "counting word vectors ..."

    code, _, err = train(tmp_path / "capped.sqlite3", dialog, "--max-json-lines", "100", terminal=False)
    last = [STATUS.fullmatch(line) for line in err.splitlines() if STATUS.fullmatch(line)][-1]
    assert code == 0 and number(last[1]) == number(last[2]) == dialog_size  # the rows past the cap count as done


def test_a_bar_of_the_bytes_read_on_a_terminal(tmp_path):
    data = rows_file(tmp_path / "rows.ndjson", 3000)
    code, out, screen = train(tmp_path / "m.sqlite3", data, "--json-chunk-size", "1000", terminal=True)
    assert code == 0 and "in 3 batches" in out, screen
    size = tqdm.format_sizeof(data.stat().st_size, divisor=1024)
    bar = re.compile(
        r"(?P<stage>[^:]+): +(?P<percent>\d+)%\|.*\| [\d.]+k?/"
        + re.escape(size)
        + r" \[[\d:]+<[\d:?]+, [^,\]]+/s(?:, (?P<tokens>[\d,]+) tokens, [\d,]+ tokens/s)?\]"
    )
    frames = [bar.fullmatch(frame.strip()) for frame in screen.split("\r") if frame.strip()]
    assert all(frames), screen
    stages = {f["stage"] for f in frames}
    assert "reading rows.ndjson" in stages and "counting word vectors" in stages
    assert any(re.fullmatch(r"writing [\d,]+ n-grams", s) for s in stages), stages
    assert any(0 < int(f["percent"]) < 100 for f in frames if f["stage"] == "reading rows.ndjson")
    assert {f["tokens"] for f in frames} == {None, "8,000", "16,000", "24,000"}
    assert frames[-1]["percent"] == "100" and frames[-1]["tokens"] == "24,000" and screen.endswith("\r\n")


@pytest.mark.parametrize("terminal", [True, False])
def test_an_interrupted_run_says_what_went_live_on_lines_of_their_own(tmp_path, terminal):
    db = tmp_path / "m.sqlite3"
    data = rows_file(tmp_path / "rows.ndjson", 3000)
    code, _, err = train(db, data, "--json-chunk-size", "100", terminal=terminal, interrupt_at=b"tokens/s")
    assert code == 130, err
    stopped = re.search(r"(?:^|[\r\n])stopped: (\d+) chunks went live; build (\d+) serves\r?\n", err)
    assert stopped and 0 < int(stopped[1]) < 30, err
    assert table_rows(str(db), "SELECT active_build FROM models")[0][0] == int(stopped[2])
    assert re.search(rf"\n{STOPPED}\r?\n$", err[stopped.end() - 1 :]), err


def test_the_reader_reports_every_byte_it_reads_in_pieces(tmp_path):
    data = rows_file(tmp_path / "rows.ndjson", 2000)
    heard: list[int] = []
    assert len(list(stream_pairs(data, on_read=heard.append))) == 2000
    assert sum(heard) == data.stat().st_size and len(heard) > 2 and min(heard[:-1]) >= READ_BYTES
