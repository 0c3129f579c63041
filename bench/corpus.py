"""The ~800k-token benchmark corpus, made from the pentateuch training text.

Five copies with disjoint vocabularies (a suffix per copy), every other one with its sentences
reversed: the n-gram statistics of a natural text five times over, not the same text repeated
(which would have no singletons and break Kneser-Ney's discounts).
"""

from __future__ import annotations

from pathlib import Path

PENTATEUCH = Path(__file__).resolve().parent.parent / "tests" / "data" / "kjv-pentateuch" / "train.txt"


def write_corpus(path: Path, copies: int = 5) -> int:
    """Write the corpus to ``path``; returns its number of tokens."""
    lines = PENTATEUCH.read_text(encoding="utf-8").splitlines()
    tokens = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            suffix = "" if copy == 0 else f"_{copy}"
            for line in lines:
                words = line.split()
                if copy % 2:
                    words.reverse()
                out.write(" ".join(w + suffix for w in words) + "\n")
                tokens += len(words)
    return tokens
