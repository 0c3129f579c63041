"""Concept probabilities: example counts, discounted and weighed against the model's words."""

from __future__ import annotations

from dbslm.concepts.catalog import DEFAULTS, choose_concept
from dbslm.concepts.classifier import Background, ConceptModel
from dbslm.concepts.payloads import topics
from dbslm.domain import Message
from dbslm.memory.retrieval import words_of
from dbslm.text.tokenize import get_tokenizer

TOKENIZE = get_tokenizer("regex").tokenize
# word counts of a chatty model: the usual words of questions are common, topic words rare
CHATTY = Background(
    {
        "what": 900,
        "did": 300,
        "we": 400,
        "you": 1200,
        "do": 500,
        "is": 1500,
        "the": 2000,
        "about": 200,
        "today": 60,
        "have": 400,
        "talk": 40,
        "ai": 30,
        "movie": 10,
        "was": 500,
    },
    100_000,
)


def probability(prompt: str, background: Background = CHATTY) -> float:
    summary = ConceptModel(words_of(TOKENIZE(e)) for e in DEFAULTS[0].examples)
    return summary.probability(words_of(TOKENIZE(prompt)), background)


def test_paraphrases_of_the_examples_call_for_the_concept():
    for prompt in (
        "What did we discuss?",
        "What were we just talking about?",
        "Can you summarize our conversation?",
        "What have we been talking about so far?",
        "Give me a summary",
    ):
        assert probability(prompt) > 0.9, prompt


def test_prompts_that_only_share_common_words_do_not():
    for prompt in ("What did you do today?", "What is AI?", "What was the movie about?", "", "🙂", "what"):
        assert probability(prompt) < 0.1, prompt


def test_a_word_the_model_uses_everywhere_is_weak_evidence():
    rare, common = CHATTY, Background({**CHATTY.freq, "discuss": 5_000}, 105_000)
    assert probability("did we discuss", common) < probability("did we discuss", rare)
    assert probability("discuss", common) < 0.5 < probability("discuss", rare)


def test_the_likeliest_concept_above_its_threshold_is_chosen():
    concepts = list(DEFAULTS)  # "acknowledge" has no examples and a threshold above 1: signals only
    assert choose_concept(concepts, TOKENIZE("what did we discuss"), CHATTY, TOKENIZE).name == "summary"
    assert choose_concept(concepts, TOKENIZE("thanks for the answer"), CHATTY, TOKENIZE) is None


def test_a_summarys_topics_are_the_users_words_and_not_chats_replies():
    said = ["I like reading books", "Good", "books about robots", "cool, good", "robots and books"]
    messages = [Message(i, "user", "ann", text, None, 0.0) for i, text in enumerate(said)]
    messages.insert(1, Message(9, "bot", "dbslm", "Good books are good reading", None, 0.0))
    assert topics(messages) == {"topics": "books, robots and reading"}
