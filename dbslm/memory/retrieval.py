"""Word lists and hashed bag-of-words vectors: how a correction's question is matched to a
prompt that asks it again in other words (a deterministic comparison that needs no model)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

DIMENSIONS = 512


def is_word(token: str) -> bool:
    """Whether a token is a word (it holds a letter or digit), not punctuation or an emoji."""
    return any(ch.isalnum() for ch in token)


def words_of(tokens: Iterable[str]) -> list[str]:
    """The lower-cased word tokens (letters or digits) of a token list."""
    return [t.lower() for t in tokens if is_word(t)]


CONTRACTIONS = (
    ("n't", "not"),
    ("'re", "are"),
    ("'ll", "will"),
    ("'ve", "have"),
    ("'m", "am"),
    ("'d", "would"),
    ("'s", "is"),
)
IRREGULAR = {
    "can't": ["can", "not"],
    "won't": ["will", "not"],
    "shan't": ["shall", "not"],
    # the same, typed without the apostrophe, as chat often is
    "cant": ["can", "not"],
    "dont": ["do", "not"],
    "doesnt": ["does", "not"],
    "isnt": ["is", "not"],
    "im": ["i", "am"],
    "youre": ["you", "are"],
    "whats": ["what", "is"],
    "thats": ["that", "is"],
    "hows": ["how", "is"],
    "wheres": ["where", "is"],
    "whos": ["who", "is"],
}


def plain_words(tokens: Iterable[str]) -> list[str]:
    """The lower-cased words of a token list with contractions spelled out ("what's" -> "what
    is"), so two phrasings of one question compare equal."""
    out: list[str] = []
    for word in words_of(tokens):
        word = word.replace("\u2019", "'")
        if word in IRREGULAR:
            out += IRREGULAR[word]
            continue
        for ending, full in CONTRACTIONS:
            if word.endswith(ending) and len(word) > len(ending):
                out += [word[: -len(ending)], full]
                break
        else:
            out.append(word)
    return out


def hashed_vector(tokens: Iterable[str]) -> np.ndarray:
    """A unit vector of hashed word counts (stable across processes)."""
    vector = np.zeros(DIMENSIONS)
    for word in words_of(tokens):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % DIMENSIONS
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else vector


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Cosine of the hashed vectors of two token lists (0 when either has no words)."""
    return float(hashed_vector(a) @ hashed_vector(b))
