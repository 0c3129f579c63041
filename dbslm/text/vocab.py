"""The vocabulary: token text <-> integer id, with the three control tokens first."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UNK, BOS, EOS = 0, 1, 2
CONTROL_TOKENS = ("<unk>", "<s>", "</s>")


class Vocabulary:
    """Token ids in order of first appearance; ids 0-2 are ``<unk>``, ``<s>``, ``</s>``."""

    def __init__(self, texts: Iterable[str] = CONTROL_TOKENS) -> None:
        self.texts: list[str] = list(texts)
        if tuple(self.texts[:3]) != CONTROL_TOKENS:
            raise ValueError("a vocabulary must start with <unk>, <s>, </s>")
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.texts)}

    def __len__(self) -> int:
        return len(self.texts)

    def encode(self, sentences: Iterable[list[str]], *, grow: bool) -> np.ndarray:
        """Ids of ``<s> w1 .. wn </s>`` for each non-empty sentence, concatenated.

        With ``grow`` unseen tokens get new ids; without, they map to ``<unk>``.
        Control-token spellings inside text are dropped: text cannot forge a boundary.
        """
        index = self.index
        texts = self.texts
        out: list[int] = []
        for tokens in sentences:
            if not tokens:
                continue
            out.append(BOS)
            for tok in tokens:
                i = index.get(tok)
                if i is None:
                    if not grow:
                        out.append(UNK)
                        continue
                    i = index[tok] = len(texts)
                    texts.append(tok)
                elif i < 3:
                    continue
                out.append(i)
            if out[-1] == BOS:
                out.pop()
            else:
                out.append(EOS)
        return np.asarray(out, dtype=np.int64)

    def restricted(self, known_ids: np.ndarray) -> "Vocabulary":
        """A copy that knows only ``known_ids`` (plus controls); other words become ``<unk>``."""
        view = Vocabulary.__new__(Vocabulary)
        view.texts = self.texts
        view.index = {self.texts[i]: int(i) for i in known_ids if i < len(self.texts)}
        view.index.update({t: i for i, t in enumerate(CONTROL_TOKENS)})
        return view
