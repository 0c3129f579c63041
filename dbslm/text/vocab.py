"""The vocabulary: token text <-> integer id, with the three control tokens first."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, repeat

import numpy as np

UNK, BOS, EOS, SEP = 0, 1, 2, 3
CONTROL_TOKENS = ("<unk>", "<s>", "</s>", "<sep>")  # <sep> ends a prompt and starts its reply
NEVER_SAMPLED = (UNK, BOS, SEP)  # </s> is sampled: it ends a reply
_CONTROL_SET = frozenset(CONTROL_TOKENS)


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

        With ``grow`` unseen tokens get new ids (in order of first appearance); without, they
        map to ``<unk>``. Control-token spellings inside text are dropped: text cannot forge a
        boundary.
        """
        sentences = list(sentences)
        tokens = list(chain.from_iterable(sentences))
        if grow:
            self._grow(tokens)
        return _framed(*self._lookup(tokens, sentences), parts=1)

    def encode_dialog(self, pairs: Iterable[tuple[list[str], list[str]]], *, grow: bool) -> np.ndarray:
        """Ids of ``<s> prompt <sep> response </s>`` for each pair with a non-empty response."""
        pairs = [(p, r) for p, r in pairs if not _CONTROL_SET.issuperset(r)]
        if grow:  # new words in order of appearance, each pair's response before its prompt
            self._grow(chain.from_iterable(chain.from_iterable((r, p) for p, r in pairs)))
        lists = list(chain.from_iterable(pairs))
        return _framed(*self._lookup(list(chain.from_iterable(lists)), lists), parts=2)

    def _grow(self, tokens: Iterable[str]) -> None:
        """Give each of ``tokens`` that has no id the next one, in order of first appearance."""
        index, texts = self.index, self.texts
        for token in dict.fromkeys(tokens):
            if token not in index:
                index[token] = len(texts)
                texts.append(token)

    def _lookup(self, tokens: list[str], token_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of ``tokens`` (the lists' tokens concatenated; unknown ones ``<unk>``,
        control spellings dropped) and how many ids each list kept."""
        ids = np.fromiter(map(self.index.get, tokens, repeat(-1)), np.int64, len(tokens))
        kept = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        forged = (ids >= 0) & (ids < len(CONTROL_TOKENS))
        if forged.any():
            owner = np.repeat(np.arange(len(token_lists)), kept)
            kept -= np.bincount(owner[forged], minlength=len(token_lists))
            ids = ids[~forged]
        ids[ids < 0] = UNK
        return ids, kept

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


def _framed(ids: np.ndarray, lengths: np.ndarray, parts: int) -> np.ndarray:
    """``ids`` of token lists (``lengths`` each) taken ``parts`` lists a sequence: each
    sequence as ``<s> list <sep> list ... </s>``, one with no id at all left out."""
    ends = np.cumsum(lengths).reshape(-1, parts)
    lengths = lengths.reshape(-1, parts)
    kept = lengths.sum(axis=1) > 0
    at = np.hstack((ends - lengths, ends[:, -1:]))[kept].ravel()  # where each list starts, and the last ends
    return np.insert(ids, at, np.tile((BOS, *(SEP,) * (parts - 1), EOS), int(kept.sum())))
