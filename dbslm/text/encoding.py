"""Raw chat texts straight to token ids, as a build of channel messages encodes them.

A batch of chat repeats its words. :class:`TextIds` tokenizes and looks up each distinct
piece of a line (a space-separated run that the tokenizer splits on its own) once per
batch: the ids are those of tokenizing each line and looking up each token, in half the
time for a backfill's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dbslm.text.tokenize import get_tokenizer
from dbslm.text.vocab import BOS, EOS, SEP, Vocabulary

REMEMBERED_PIECES = 1 << 18  # distinct pieces whose ids an encoder keeps


class TextIds:
    """The ids of texts' tokens in ``vocab``, which grows by their new words."""

    def __init__(self, vocab: Vocabulary, tokenizer: str) -> None:
        self.vocab = vocab
        self.tokenizer = get_tokenizer(tokenizer)
        self._pieces: dict[str, tuple[int, ...]] = {}

    def __call__(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens (control spellings dropped, as :meth:`Vocabulary.ids`)."""
        pieces = self.tokenizer.pieces(text)
        if pieces is None:
            return self.vocab.ids(self.tokenizer.tokenize(text), grow=True)
        known, out = self._pieces, []
        for piece in pieces:
            ids = known.get(piece)
            if ids is None:
                ids = tuple(self.vocab.ids(self.tokenizer.piece_tokens(piece), grow=True))
                if len(known) < REMEMBERED_PIECES:
                    known[piece] = ids
            out += ids
        return out


@dataclass(frozen=True)
class ChatTexts:
    """Channel messages as a build learns them: ``(prompt, text)`` is the sequence ``<s>
    prompt <sep> text </s>`` with only the prompt's last ``context`` tokens (all that the
    text's n-grams see of it: a prompt is a message learned on its own too), or ``<s> <sep>
    text </s>`` without a prompt; a text without tokens is left out."""

    pairs: Sequence[tuple[str | None, str]]
    tokenizer: str
    context: int

    def encode(self, vocab: Vocabulary) -> np.ndarray:
        """Their ids, one sequence after the other (``vocab`` grows by their new words)."""
        text_ids, out = TextIds(vocab, self.tokenizer), []
        tokenize = text_ids.tokenizer.tokenize
        for prompt, text in self.pairs:
            reply = text_ids(text)
            if reply:
                tail = tokenize(prompt)[-self.context :] if prompt and self.context else []
                out += (BOS, *vocab.ids(tail, grow=True), SEP, *reply, EOS)
        return np.asarray(out, dtype=np.int64)
