"""Tokenizers that turn chat lines into model tokens, and ``detokenize`` to undo them.

``RegexTokenizer`` is a Unicode-aware splitter for raw chat text;
``WhitespaceTokenizer`` is plain ``str.split`` for corpora that are already
tokenized (keeps parity with tools such as KenLM).

``RegexTokenizer`` drops control/format characters (except ZWJ and tag
characters inside emoji sequences), then applies NFKC, then splits into:
URLs, Discord ``<@123>``/``<#123>``/``<:name:123>``, ``@mentions``/``#channels``,
free-standing emoticons (``:)``, ``<3``), words (letters/marks/digits/``_`` with
inner ``'``, ``’``, ``-``, ``.``, and ``,``/``:``/``/`` between digits, so
``don't``, ``e-mail``, ``e.g``, ``3.14``, ``1,000``, ``10:30``, ``24/7`` are one
token), emoji grapheme clusters, punctuation runs (``...``, ``?!``, ``--``) and
single other characters.  Scripts written without spaces (Han, Hiragana, Thai,
Lao, Khmer, Myanmar) give one token per grapheme cluster; Katakana runs (with
``ー``) stay one token because they usually spell one loanword.  Case is kept.

``detokenize(tokenize(s)) == s`` holds for ordinary English chat, but not for:

* text NFKC changes (``…`` -> ``...``, full-width forms -> ASCII, ligatures,
  super/subscripts) or dropped control/format characters (ZWSP, ZWNJ, bidi marks);
* non-canonical spacing: runs of whitespace become one space, spaces before
  closing marks or between unspaced-script characters are removed, and a space
  appears between CJK and a following Latin word (``日本語でOK`` -> ``日本語で OK``);
* punctuation glued to words where the rules guess wrong: ``wait...what`` ->
  ``wait... what``, ``and/or`` -> ``and / or``, ``-5`` -> ``- 5``, ``5€`` ->
  ``5 €``, ``.NET`` -> ``. NET``, ``dogs'`` -> ``dogs '`` (a lone straight ``'``
  is always spaced), ``a😂`` -> ``a 😂`` and ``😂 😂`` -> ``😂😂`` (emoji are
  spaced from words but not from each other); trailing ``.,;:!?'()[]{}`` is
  split off URLs.
"""

import unicodedata
from functools import lru_cache

import regex

TOKENIZERS = ("regex", "whitespace")
MAX_CACHED = 48  # longest piece whose tokens are cached
# The longest token, on every backend alike (MariaDB's vocabulary column holds 512 characters):
# a longer run (a pasted hash, a letter held down) is cut into pieces of this length.
MAX_TOKEN_CHARS = 256

# Scripts written without spaces between words, plus the prolonged sound mark.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\u30fc"
_WORD = r"[[\p{L}\p{M}\p{N}_]--[" + _UNSPACED + r"]]"
_URL_END = r"""[^\s<>"'.,;:!?()\[\]{}]"""

# Emoji sequences (whose ZWJ and tag characters must survive) or a control/format char.
_CLEAN = regex.compile(
    r"(\p{Extended_Pictographic}"
    r"(?:[\p{M}\p{Emoji_Modifier}\U000E0020-\U000E007F]|\u200d\p{Extended_Pictographic})*)"
    r"|(?!\s)[\p{Cc}\p{Cf}\p{Cs}]"
)

_TOKEN = regex.compile(
    r"(?:https?|ftp)://[^\s<>\"]*"
    + _URL_END
    + r"|www\.[^\s<>\"]*"
    + _URL_END
    + r"|<(?:[@#][!&]?\d+|a?:\w+:\d+)>"  # Discord mention, channel, custom emoji
    + r"|[#*0-9]\ufe0f?\u20e3"  # keycap emoji
    + r"|[@#]\w+(?:[.\-]\w+)*"  # @mention, #channel
    + r"|(?<!\S)(?:[:;=]-?[()\[\]DPpOo/\\|]+|<3+)(?!\S)"  # emoticon standing alone
    + r"|"
    + _WORD
    + r"+(?:(?:['’.\-]|(?<=\d)[,:/](?=\d))"
    + _WORD
    + r"+)*"  # word, number
    + r"|\p{Katakana}[\p{Katakana}\u30fc\p{M}]*"  # Katakana run
    # one grapheme of an unspaced script, or one emoji
    + r"|(?=["
    + _UNSPACED
    + r"\p{Extended_Pictographic}\p{Regional_Indicator}])\X"
    + r"|[.!?]{2,}|-{2,}"  # punctuation run
    + r"|\S",
    regex.V1,
)

_OPENING = frozenset("([{¿¡“‘«「『【〔〈《")
_CLOSING = regex.compile(r"[.!?]+|[,;:)\]}%…،؛؟।”’»。、」』】〕〉》]")
_CJK = regex.compile(r"[" + _UNSPACED + r"\u3000-\u303f\u30fb]")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}]|[#*0-9]\ufe0f?\u20e3")
_CURRENCY = regex.compile(r"\p{Sc}")


class RegexTokenizer:
    """Unicode-aware tokenizer for raw chat text (see the module docstring)."""

    name = "regex"

    def tokenize(self, line: str) -> list[str]:
        """Split ``line`` into tokens; never raises, ``[]`` for blank input."""
        pieces = self.pieces(line)
        if pieces is not None:
            return [token for piece in pieces for token in self.piece_tokens(piece)]
        if not line.isprintable():
            line = _CLEAN.sub(r"\1", line)
        return _capped(_TOKEN.findall(unicodedata.normalize("NFKC", line)))

    @staticmethod
    def pieces(line: str) -> list[str] | None:
        """The space-separated pieces of ``line`` whose :meth:`piece_tokens` are its tokens in
        turn (printable ASCII: no token spans a space), or None when it is tokenized whole."""
        return line.split() if line.isascii() and line.isprintable() else None

    @staticmethod
    def piece_tokens(piece: str) -> tuple[str, ...] | list[str]:
        """The tokens of one of :meth:`pieces`."""
        return _piece_tokens(piece) if len(piece) <= MAX_CACHED else _capped(_TOKEN.findall(piece))


@lru_cache(maxsize=1 << 16)
def _piece_tokens(piece: str) -> tuple[str, ...]:
    """The tokens of a short space-free piece of printable ASCII (chat words repeat: cached)."""
    return tuple(_TOKEN.findall(piece))


def _capped(tokens: list[str]) -> list[str]:
    """``tokens`` with each one longer than MAX_TOKEN_CHARS cut into pieces of that length."""
    if max(map(len, tokens), default=0) <= MAX_TOKEN_CHARS:
        return tokens
    return [t[i : i + MAX_TOKEN_CHARS] for t in tokens for i in range(0, len(t), MAX_TOKEN_CHARS)]


class WhitespaceTokenizer:
    """``str.split`` for pre-tokenized corpora; no normalisation at all."""

    name = "whitespace"

    def tokenize(self, line: str) -> list[str]:
        """Split ``line`` on whitespace (a token longer than MAX_TOKEN_CHARS in pieces)."""
        return line.split() if len(line) <= MAX_TOKEN_CHARS else _capped(line.split())

    @staticmethod
    def pieces(line: str) -> list[str]:
        """The space-separated pieces of ``line``: each one token, or a few when it is long."""
        return line.split()

    @staticmethod
    def piece_tokens(piece: str) -> tuple[str, ...] | list[str]:
        """The tokens of one of :meth:`pieces`."""
        return (piece,) if len(piece) <= MAX_TOKEN_CHARS else _capped([piece])


_SHARED = {"regex": RegexTokenizer(), "whitespace": WhitespaceTokenizer()}  # they hold no state


def get_tokenizer(name: str) -> RegexTokenizer | WhitespaceTokenizer:
    """The tokenizer named ``name`` (one of ``TOKENIZERS``), one instance per name."""
    if name not in _SHARED:
        raise ValueError(f"unknown tokenizer {name!r}; choose regex or whitespace")
    return _SHARED[name]


def detokenize(tokens: list[str]) -> str:
    """Join tokens into normally spaced text (inverse of ``RegexTokenizer.tokenize``).

    Words are separated by a space, except: before closing punctuation, after
    opening brackets and a currency sign before a number, inside straight
    double quotes (which alternate opening/closing), between characters of
    unspaced scripts (also across punctuation that follows them), and between
    consecutive emoji.
    """
    parts: list[str] = []
    glue_next = quote_open = in_cjk = prev_emoji = prev_currency = False
    for tok in tokens:
        closes = _CLOSING.fullmatch(tok) is not None
        if tok == '"':
            closes = quote_open
            quote_open = not quote_open
        is_cjk = _CJK.match(tok) is not None
        is_emoji = _EMOJI.match(tok) is not None
        glued = (
            glue_next
            or closes
            or (is_cjk and in_cjk)
            or (is_emoji and prev_emoji)
            or (prev_currency and tok[:1].isdigit())
        )
        if parts and not glued:
            parts.append(" ")
        parts.append(tok)
        glue_next = tok in _OPENING or (tok == '"' and quote_open)
        prev_currency = _CURRENCY.fullmatch(tok) is not None
        prev_emoji = is_emoji
        if not closes:
            in_cjk = is_cjk
    return "".join(parts)
