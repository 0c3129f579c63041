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
ECHO_F1 = 0.5  # a reply whose word F1 with its prompt reaches this mostly repeats it


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
    left: dict[str, int] = {}
    for word in reference:
        left[word] = left.get(word, 0) + 1
    common = 0
    for word in reply:  # the size of the two lists' multiset intersection
        if left.get(word):
            left[word] -= 1
            common += 1
    if not common:
        return 0.0
    precision, recall = common / len(reply), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def distinct_n(replies: list[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of all replies."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, replies) for i in range(len(ws) - n + 1)]
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


def reply_figures(replies: list[str], pairs: list[tuple[str, str]]) -> dict[str, float]:
    """ROUGE-L F1 and lexical overlap against the pairs' responses (means), distinct-2, and
    the shares of repeated, echoing (word F1 with the prompt at least ECHO_F1) and empty replies."""
    n = len(pairs)
    normal = [" ".join(words(r)) for r in replies]
    seen = Counter(normal)
    return {
        "rouge_l_f1": sum(rouge_l_f1(r, ref) for r, (_, ref) in zip(replies, pairs)) / n,
        "lexical_overlap": sum(lexical_overlap(r, ref) for r, (_, ref) in zip(replies, pairs)) / n,
        "distinct_2": distinct_n(replies, 2),
        "repeated": sum(seen[r] > 1 for r in normal if r) / n,
        "echo": sum(is_echo(r, p) for r, (p, _) in zip(replies, pairs)) / n,
        "empty": sum(not r for r in normal) / n,
    }


def is_echo(reply: str, prompt: str) -> bool:
    """A reply with words that mostly repeats its prompt."""
    return bool(words(reply)) and lexical_overlap(reply, prompt) >= ECHO_F1


def reciprocal_ranks(replies: np.ndarray, references: np.ndarray, texts: list[str], prompts: list[str]) -> np.ndarray:
    """The ranking measure's per-reply scores (docs/evaluation.md): for reply i (unit vector
    ``replies[i]``, text ``texts[i]``), the reciprocal rank of reference i among all
    ``references`` by cosine; 0 for an empty reply or an echo of its prompt."""
    similarity = replies @ references.T
    own = np.diagonal(similarity)
    ranks = 1 + (similarity > own[:, None]).sum(axis=1)
    missed = np.array([not words(t) or is_echo(t, p) for t, p in zip(texts, prompts)], dtype=bool)
    return np.where(missed, 0.0, 1.0 / ranks)
