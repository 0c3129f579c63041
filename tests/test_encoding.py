"""Channel texts encoded piece by piece give the ids of tokenizing whole lines."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dbslm.text.encoding import ChatTexts
from dbslm.text.tokenize import MAX_CACHED, MAX_TOKEN_CHARS, get_tokenizer
from dbslm.text.vocab import Vocabulary

PIECES = st.sampled_from(
    [
        "hello",
        "Hello,",
        "don't",
        "<s>",
        "</s>",
        "<sep>",
        "<@123>",
        "e.g.",
        "...",
        "caf\u00e9",
        "\u65e5\u672c\u8a9e",
        "\U0001f600\U0001f600",
        "x" * (MAX_CACHED + 5),
        "y" * (MAX_TOKEN_CHARS + 7),
        "a\tb",
        "\u200b",
        "3.14",
    ]
)
LINES = st.lists(PIECES, max_size=8).map(" ".join)
PAIRS = st.lists(st.tuples(st.none() | LINES, LINES), max_size=12)


def line_by_line(pairs, tokenizer: str, context: int, vocab: Vocabulary):
    """The ids as tokenizing each line, then looking up each token, gives them."""
    tokenize = get_tokenizer(tokenizer).tokenize
    dialog = [(tokenize(p)[-context:] if p and context else [], tokenize(t)) for p, t in pairs]
    return vocab.encode_dialog(dialog, grow=True)


@settings(max_examples=200, deadline=None)
@given(PAIRS, st.sampled_from(["regex", "whitespace"]), st.integers(0, 4))
def test_chat_texts_encode_as_whole_lines(pairs, tokenizer, context):
    known = ["hello", "café", "<s>"]
    expected, vocab = Vocabulary(), Vocabulary()
    for v in (expected, vocab):
        v.ids(known, grow=True)
    ids = ChatTexts(pairs * 2, tokenizer, context).encode(vocab)  # twice: the second time from kept pieces
    assert ids.tolist() == line_by_line(pairs * 2, tokenizer, context, expected).tolist()
    assert vocab.texts == expected.texts
