"""Which reply words a prompt word calls for, counted from a model's pairs and stored as rows.

For a prompt word p and a response word r, c(p, r) is the number of pairs whose prompt holds
p and whose response holds r. The score is their pointwise mutual information with the
count discounted (absolute discounting, as Level 1 smooths n-grams),

    log( (c(p, r) - DISCOUNT) N / (c(p) c(r)) )

(N pairs; c(p) pairs with p in the prompt, c(r) pairs with r in the response): how much more
often r is in an answer when p is in the question than in answers at large. So a word every
answer has ("the", "i") scores near 0 whatever the question, and a pairing seen twice counts
for less than one seen often. A pairing counts from ``MIN_PAIRS`` pairs on, and each prompt
word keeps its ``TOP`` best, in the table ``reply_words`` (the README shows how to read it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dbslm.ngram.counting import runs
from dbslm.reply.vectors import MAX_WORD_CHARS, presence

TOP = 20
MIN_PAIRS = 2  # a pairing seen once says nothing
DISCOUNT = 1.5  # on conversations-dev, "hello" then calls for "hi" (38 pairs) before a name seen twice


@dataclass(frozen=True)
class ReplyWords:
    """One row per (prompt word, reply word) kept: its score and the pairs behind it."""

    words: list[str]
    reply_words: list[str]
    scores: np.ndarray  # float64
    pairs: np.ndarray  # int64


NO_REPLY_WORDS = ReplyWords([], [], np.zeros(0), np.zeros(0, dtype=np.int64))


def count_reply_words(pairs: Sequence[tuple[list[str], list[str]]]) -> ReplyWords:
    """The reply words of each prompt word of ``pairs`` (each: the prompt's and the response's
    lower-cased words; longer ones than MAX_WORD_CHARS, pasted hashes and links, are left out)."""
    prompts = [set(p) for p, _ in pairs]
    responses = [set(r) for _, r in pairs]
    vocabulary = sorted(w for w in set().union(*prompts, *responses) if len(w) <= MAX_WORD_CHARS)
    if not vocabulary:
        return NO_REPLY_WORDS
    index = {w: i for i, w in enumerate(vocabulary)}
    asked, answered = presence(prompts, index), presence(responses, index)
    together = (asked.T @ answered).tocoo()
    keep = together.data >= MIN_PAIRS
    rows, cols, counts = together.row[keep], together.col[keep], together.data[keep]
    in_prompts = np.asarray(asked.sum(axis=0)).ravel()
    in_responses = np.asarray(answered.sum(axis=0)).ravel()
    scores = np.log((counts - DISCOUNT) * len(pairs) / (in_prompts[rows] * in_responses[cols]))
    keep = scores > 0
    rows, cols, counts, scores = rows[keep], cols[keep], counts[keep], scores[keep]
    order = np.lexsort((cols, -scores, rows))  # each prompt word's best first (ties: the reply word)
    rows, cols, counts, scores = rows[order], cols[order], counts[order], scores[order]
    starts, ends = runs(rows)
    rank = np.arange(len(rows)) - np.repeat(starts, ends - starts)
    top = rank < TOP
    return ReplyWords(
        [vocabulary[i] for i in rows[top]],
        [vocabulary[i] for i in cols[top]],
        scores[top],
        counts[top].astype(np.int64),
    )
