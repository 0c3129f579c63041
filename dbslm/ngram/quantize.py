"""8-bit log-probabilities: each value maps to a code 0..255 and a look-up table gives it back.

Bins hold equal numbers of values (as KenLM's quantizer does) and each code stands for the
mean of its bin, so dense regions of the distribution get fine steps. With 256 or fewer
distinct values the table is exact.
"""

from __future__ import annotations

import numpy as np

LEVELS = 256


def quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (uint8, aligned with ``values``) and the look-up table (code -> value)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(0)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    new_value = np.r_[True, ranked[1:] != ranked[:-1]]
    codes = np.empty(len(values), dtype=np.uint8)
    if new_value.sum() <= LEVELS:
        codes[order] = np.cumsum(new_value) - 1
        return codes, ranked[new_value]
    codes[order] = np.arange(len(values)) * LEVELS // len(values)
    sums = np.bincount(codes, weights=values, minlength=LEVELS)
    sizes = np.bincount(codes, minlength=LEVELS)
    return codes, sums / sizes
