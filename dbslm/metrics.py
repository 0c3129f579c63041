"""Reply metrics over lower-cased word tokens; an empty reply scores 0 everywhere.

ROUGE-L F1 (longest common subsequence), lexical overlap (unigram F1) and distinct-n. They
are easy to game (see docs/DESIGN.md and the benchmark notes), so they are always reported
together with the shares of empty, repeated and echoing replies.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from dbslm.memory.retrieval import words_of
from dbslm.text.tokenize import RegexTokenizer

_TOKENIZE = RegexTokenizer().tokenize


def words(text: str) -> list[str]:
    return words_of(_TOKENIZE(text))


def rouge_l_f1(reply: str, reference: str) -> float:
    a, b = words(reply), words(reference)
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def lexical_overlap(reply: str, reference: str) -> float:
    """Unigram F1 between the reply's and the reference's words."""
    return word_f1(words(reply), words(reference))


def word_f1(reply: list[str], reference: list[str]) -> float:
    """Unigram F1 between two word lists (0 when either is empty)."""
    a, b = Counter(reply), Counter(reference)
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def distinct_n(replies: list[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of all replies."""
    grams = [tuple(ws[i:i + n]) for ws in map(words, replies) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def pairwise_unigram_f1(texts: list[list[str]]) -> np.ndarray:
    """Unigram F1 of every pair of word lists (a square matrix; 0 where either has no words)."""
    index: dict[str, int] = {}
    rows = [[index.setdefault(w, len(index)) for w in words] for words in texts]
    counts = np.zeros((len(texts), len(index)))
    for i, ids in enumerate(rows):
        np.add.at(counts[i], ids, 1)
    common = np.stack([np.minimum(row, counts).sum(axis=1) for row in counts]) if len(texts) else counts
    sizes = counts.sum(axis=1)
    total = sizes[:, None] + sizes[None, :]
    return np.divide(2 * common, total, out=np.zeros_like(common), where=total > 0)

