import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbslm.text.tokenize import (
    _TOKEN,
    MAX_TOKEN_CHARS,
    TOKENIZERS,
    RegexTokenizer,
    WhitespaceTokenizer,
    detokenize,
    get_tokenizer,
)

tok = RegexTokenizer().tokenize


@pytest.mark.parametrize(
    "line",
    [
        "Hello, world! How's it going? (fine) I paid $3.50 at 10:30.",
        "Wait... what?! No way!!!",
        'She said "hi there" to me; I said nothing.',
        "It's 50% off [limited time] {really}: e.g. U.S. deals.",
        "¿Qué tal? ¡Muy bien!",
        "I don't know, they're here by 9:45 and it costs 1,000 dollars.",
        "ping @bob in #general, see https://example.com/a?b=1. ok :) <3",
    ],
)
def test_english_round_trip(line):
    assert detokenize(tok(line)) == line


def test_example_tokens():
    assert tok("Hello, world! How's it going? (fine) I paid $3.50 at 10:30.") == [
        "Hello",
        ",",
        "world",
        "!",
        "How's",
        "it",
        "going",
        "?",
        "(",
        "fine",
        ")",
        "I",
        "paid",
        "$",
        "3.50",
        "at",
        "10:30",
        ".",
    ]


def test_words_keep_inner_apostrophes_and_hyphens():
    assert tok("don't l'homme e-mail naïve rock’n’roll") == ["don't", "l'homme", "e-mail", "naïve", "rock’n’roll"]


def test_case_kept():
    assert tok("HeLLo World") == ["HeLLo", "World"]


def test_numbers():
    assert tok("3.14 1,000 10:30 24/7 1,234.56 42") == ["3.14", "1,000", "10:30", "24/7", "1,234.56", "42"]
    assert tok("costs 5.") == ["costs", "5", "."]


def test_punctuation_runs():
    assert tok("so... what?! no!!! ok.") == ["so", "...", "what", "?!", "no", "!!!", "ok", "."]
    assert tok("(a)") == ["(", "a", ")"]


def test_url_and_mentions():
    assert tok("see https://example.com/x?q=1&r=2, now") == ["see", "https://example.com/x?q=1&r=2", ",", "now"]
    assert tok("hey <@123> <@!45> <#678> <@&9> <:kek:111> @bob.smith #off-topic") == [
        "hey",
        "<@123>",
        "<@!45>",
        "<#678>",
        "<@&9>",
        "<:kek:111>",
        "@bob.smith",
        "#off-topic",
    ]


@pytest.mark.parametrize(
    "emoji",
    ["😂", "👍🏽", "👩‍💻", "👨🏽‍🚀", "🏳️‍🌈", "❤️‍🔥", "❤️", "🇫🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"],
)
def test_emoji_single_token(emoji):
    assert tok(f"hi {emoji} there") == ["hi", emoji, "there"]
    assert tok(f"hi{emoji}") == ["hi", emoji]


def test_keycap_emoji():
    assert tok("press 1️⃣ or #️⃣") == ["press", "1️⃣", "or", "#️⃣"]


def test_emoji_runs_split_per_cluster():
    assert tok("🇫🇷🇩🇪👩‍💻👍🏽") == ["🇫🇷", "🇩🇪", "👩‍💻", "👍🏽"]
    assert detokenize(tok("lol 😂😂")) == "lol 😂😂"


def test_japanese():
    line = "今日はいい天気ですね。"
    tokens = tok(line)
    assert tokens == ["今", "日", "は", "い", "い", "天", "気", "で", "す", "ね", "。"]
    assert detokenize(tokens) == line


def test_katakana_runs_stay_together():
    tokens = tok("コンピューターを使う")
    assert tokens == ["コンピューター", "を", "使", "う"]
    assert detokenize(tokens) == "コンピューターを使う"


def test_chinese():
    line = "我爱北京天安门。你好，世界！"
    tokens = tok(line)
    assert tokens[:8] == ["我", "爱", "北", "京", "天", "安", "门", "。"]
    assert len(tokens) == 14
    # NFKC turns the full-width comma and exclamation mark into ASCII.
    assert detokenize(tokens) == "我爱北京天安门。你好,世界!"


def test_thai_one_token_per_grapheme():
    line = "สวัสดีครับ"
    tokens = tok(line)
    assert tokens == ["ส", "วั", "ส", "ดี", "ค", "รั", "บ"]
    assert detokenize(tokens) == line


def test_cjk_then_latin_gets_a_space():
    assert detokenize(tok("日本語でOK")) == "日本語で OK"


def test_hangul_is_spaced():
    assert tok("안녕하세요 세계!") == ["안녕하세요", "세계", "!"]


def test_rtl_words():
    assert tok("مرحبا بالعالم and שלום עולם") == ["مرحبا", "بالعالم", "and", "שלום", "עולם"]
    assert detokenize(tok("مرحبا بالعالم")) == "مرحبا بالعالم"


def test_control_and_format_chars_dropped():
    assert tok("he\x00llo\x07 wo\u200brld\u200d!\ufeff") == ["hello", "world", "!"]
    assert tok("a\tb\n c\r\n") == ["a", "b", "c"]


def test_nfkc():
    assert tok("ＡＢＣ ﬁne…") == ["ABC", "fine", "..."]


@pytest.mark.parametrize("line", ["", " ", "\t\n  \r", "\x00\x01", "\u200b"])
def test_blank(line):
    assert tok(line) == []


@given(st.text())
def test_tokenize_never_fails(line):
    tokens = tok(line)
    for token in tokens:
        assert token
        assert token.split() == [token]
    assert isinstance(detokenize(tokens), str)


@given(
    st.lists(st.sampled_from(list(" aZ09_.,:;'-!?/\\()[]<>@#&*=3DPpOo|\"") + ["http://", "www.", "<@1>", "e.g"])).map(
        "".join
    )
)
def test_printable_ascii_lines_split_piece_by_piece_as_the_full_rules_do(line):
    assert tok(line) == _TOKEN.findall(line)


def test_long_lines_tokenize_in_linear_time():
    assert tok("a " * 20000 + ".x") == ["a"] * 20000 + [".", "x"]
    run = "word" * 5000  # a 20,000-letter token: in pieces of MAX_TOKEN_CHARS
    assert tok(run + " :)") == [run[i : i + MAX_TOKEN_CHARS] for i in range(0, len(run), MAX_TOKEN_CHARS)] + [":)"]


@given(st.text())
def test_whitespace_tokenizer_is_split(line):
    assert WhitespaceTokenizer().tokenize(line) == line.split()


def test_get_tokenizer():
    assert TOKENIZERS == ("regex", "whitespace")
    assert isinstance(get_tokenizer("regex"), RegexTokenizer)
    assert isinstance(get_tokenizer("whitespace"), WhitespaceTokenizer)
    assert [get_tokenizer(name).name for name in TOKENIZERS] == list(TOKENIZERS)
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'; choose regex or whitespace"):
        get_tokenizer("bpe")
