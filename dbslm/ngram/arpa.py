"""The ARPA back-off format (KenLM's and SRILM's), read and written as plain text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from dbslm.errors import DbslmError

_COUNT = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)")
_SECTION = re.compile(r"\\(\d+)-grams:")


@dataclass
class ArpaOrder:
    """One section: the n-grams' words, log10 probabilities and backoffs (0 where absent)."""

    n: int
    words: list[list[str]]
    logp: np.ndarray
    backoff: np.ndarray


def read_arpa(lines: Iterable[str], source: str) -> list[ArpaOrder]:
    """Parse an ARPA file; errors name ``source`` and the line."""
    numbered = enumerate(lines, 1)
    declared = _read_header(numbered, source)
    orders = []
    for n in range(1, len(declared) + 1):
        orders.append(_read_section(numbered, n, declared[n - 1], source))
    for number, line in numbered:
        if line.strip():
            if line.strip() != "\\end\\":
                raise DbslmError(f"{source}:{number}: expected \\end\\, found {line.strip()[:40]!r}")
            break
    else:
        raise DbslmError(f"{source}: the file ends without \\end\\ (truncated?)")
    return orders


def _read_header(numbered: Iterator[tuple[int, str]], source: str) -> list[int]:
    for _, line in numbered:
        if line.strip() == "\\data\\":
            break
    else:
        raise DbslmError(f"{source}: not an ARPA file (no \\data\\ line)")
    declared: dict[int, int] = {}
    for number, line in numbered:
        text = line.strip()
        if not text:
            if declared:
                break
            continue
        match = _COUNT.fullmatch(text)
        if not match:
            raise DbslmError(f"{source}:{number}: expected 'ngram N=COUNT', found {text[:40]!r}")
        declared[int(match[1])] = int(match[2])
    if sorted(declared) != list(range(1, len(declared) + 1)):
        raise DbslmError(f"{source}: the header must declare orders 1..N, it declares {sorted(declared)}")
    return [declared[n] for n in range(1, len(declared) + 1)]


def _read_section(numbered: Iterator[tuple[int, str]], n: int, expected: int, source: str) -> ArpaOrder:
    for number, line in numbered:
        text = line.strip()
        if text:
            if _SECTION.fullmatch(text) and int(_SECTION.fullmatch(text)[1]) == n:
                break
            raise DbslmError(f"{source}:{number}: expected \\{n}-grams:, found {text[:40]!r}")
    words: list[list[str]] = []
    logps: list[float] = []
    backoffs: list[float] = []
    for number, line in numbered:
        parts = line.split()
        if not parts:
            break
        if len(parts) not in (n + 1, n + 2):
            raise DbslmError(
                f"{source}:{number}: a {n}-gram line needs a probability, {n} words "
                f"and an optional backoff; found {len(parts)} fields"
            )
        try:
            logps.append(float(parts[0]))
            backoffs.append(float(parts[n + 1]) if len(parts) == n + 2 else 0.0)
        except ValueError:
            raise DbslmError(f"{source}:{number}: {line.strip()[:60]!r} has a number that is not a number") from None
        words.append(parts[1 : n + 1])
    if len(words) != expected:
        raise DbslmError(f"{source}: the header declares {expected} {n}-grams, the section has {len(words)}")
    return ArpaOrder(n, words, np.array(logps, dtype=np.float64), np.array(backoffs, dtype=np.float64))


def write_arpa(out: TextIO, orders: list[tuple[list[str], np.ndarray, np.ndarray | None]]) -> None:
    """Write orders 1..N given as (n-gram texts, log10 p, backoffs or None for the top)."""
    out.write("\\data\\\n")
    for n, (texts, _, _) in enumerate(orders, 1):
        out.write(f"ngram {n}={len(texts)}\n")
    for n, (texts, logp, backoff) in enumerate(orders, 1):
        out.write(f"\n\\{n}-grams:\n")
        probs = [f"{x:.8g}" for x in logp.tolist()]
        if backoff is None:
            out.writelines(f"{p}\t{t}\n" for p, t in zip(probs, texts))
        else:
            backs = [f"{x:.8g}" for x in backoff.tolist()]
            out.writelines(f"{p}\t{t}\t{b}\n" for p, t, b in zip(probs, texts, backs))
    out.write("\n\\end\\\n")
