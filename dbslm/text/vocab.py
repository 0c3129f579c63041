"""The vocabulary: token text <-> integer id, with the three control tokens first."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UNK, BOS, EOS, SEP = 0, 1, 2, 3
CONTROL_TOKENS = ("<unk>", "<s>", "</s>", "<sep>")  # <sep> ends a prompt and starts its reply
NEVER_SAMPLED = (UNK, BOS, SEP)  # </s> is sampled: it ends a reply


class Vocabulary:
    """Token ids in order of first appearance after the control tokens (ids 0-3)."""

    def __init__(self, texts: Iterable[str] = CONTROL_TOKENS) -> None:
        self.texts: list[str] = list(texts)
        if tuple(self.texts[: len(CONTROL_TOKENS)]) != CONTROL_TOKENS:
            raise ValueError("a vocabulary must start with " + ", ".join(CONTROL_TOKENS))
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.texts)}

    def __len__(self) -> int:
        return len(self.texts)

    def encode(self, sentences: Iterable[list[str]], *, grow: bool) -> np.ndarray:
        """Ids of ``<s> w1 .. wn </s>`` for each non-empty sentence, concatenated.

        With ``grow`` unseen tokens get new ids; without, they map to ``<unk>``.
        Control-token spellings inside text are dropped: text cannot forge a boundary.
        """
        out: list[int] = []
        for tokens in sentences:
            ids = self.ids(tokens, grow=grow)
            if ids:
                out += (BOS, *ids, EOS)
        return np.asarray(out, dtype=np.int64)

    def encode_dialog(self, pairs: Iterable[tuple[list[str], list[str]]], *, grow: bool) -> np.ndarray:
        """Ids of ``<s> prompt <sep> response </s>`` for each pair with a non-empty response."""
        out: list[int] = []
        for prompt, response in pairs:
            reply = self.ids(response, grow=grow)
            if reply:
                out += (BOS, *self.ids(prompt, grow=grow), SEP, *reply, EOS)
        return np.asarray(out, dtype=np.int64)

    def ids(self, tokens: Iterable[str], *, grow: bool) -> list[int]:
        """The ids of ``tokens`` (control spellings dropped; see :meth:`encode`)."""
        index, texts = self.index, self.texts
        out = []
        for tok in tokens:
            i = index.get(tok)
            if i is None:
                if not grow:
                    out.append(UNK)
                    continue
                i = index[tok] = len(texts)
                texts.append(tok)
            elif i < len(CONTROL_TOKENS):
                continue
            out.append(i)
        return out

    def restricted(self, known_ids: np.ndarray) -> Vocabulary:
        """A copy that knows only ``known_ids`` (plus controls); other words become ``<unk>``."""
        view = Vocabulary.__new__(Vocabulary)
        view.texts = self.texts
        view.index = {self.texts[i]: int(i) for i in known_ids if i < len(self.texts)}
        view.index.update({t: i for i, t in enumerate(CONTROL_TOKENS)})
        return view


def forgotten(word_id: int) -> str:
    """What a vocabulary row says once nothing the model holds has its word (untrained): no
    table keeps a forgotten person's own words, and the row keeps its id. A token never has a
    space in it, so this never names a word."""
    return f"<forgotten {word_id}>"
