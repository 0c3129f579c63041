"""Stable 64-bit context keys.

A context (a sequence of token ids) is keyed by a rolling hash: the empty context is
``EMPTY``, and appending a word ``w`` to a context with key ``h`` gives ``extend(h, w)``.
The same sequence has the same key in every process and on every backend (unlike Python's
``hash``). Keys are stored as signed 64-bit integers, the type both SQLite and MariaDB have.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

EMPTY = 0x243F6A8885A308D3
_MASK = (1 << 64) - 1
_MUL = 0x9E3779B97F4A7C15
_M1 = 0xFF51AFD7ED558CCD
_M2 = 0xC4CEB9FE1A85EC53


def _signed(x: int) -> int:
    return x - (1 << 64) if x >= 1 << 63 else x


def extend(key: int, word: int) -> int:
    """The key of the context ``key`` followed by ``word`` (signed 64-bit)."""
    x = ((key & _MASK) * _MUL + word + 1) & _MASK
    x ^= x >> 33
    x = (x * _M1) & _MASK
    x ^= x >> 33
    x = (x * _M2) & _MASK
    x ^= x >> 33
    return _signed(x)


def context_key(words: Iterable[int]) -> int:
    """The key of a whole sequence of token ids."""
    key = _signed(EMPTY)
    for w in words:
        key = extend(key, w)
    return key


EMPTY_KEY = _signed(EMPTY)


@lru_cache(maxsize=1 << 18)
def key_of(words: tuple[int, ...]) -> int:
    """:func:`context_key` of a tuple, remembered: generation asks for the same few contexts
    at every step of every reply."""
    return context_key(words)


def extend_array(keys: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Vectorized ``extend`` over int64 arrays of keys and words."""
    x = keys.astype(np.uint64) * np.uint64(_MUL) + (words.astype(np.uint64) + np.uint64(1))
    x ^= x >> np.uint64(33)
    x *= np.uint64(_M1)
    x ^= x >> np.uint64(33)
    x *= np.uint64(_M2)
    x ^= x >> np.uint64(33)
    return x.view(np.int64)


def locate(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``wanted``, a row of ``keys`` and whether that row holds it."""
    if len(keys) == 0:
        return np.zeros(wanted.shape, dtype=np.int64), np.zeros(wanted.shape, dtype=bool)
    sorter = np.argsort(keys)
    at = sorter[np.minimum(np.searchsorted(keys, wanted, sorter=sorter), len(keys) - 1)]
    return at, keys[at] == wanted
