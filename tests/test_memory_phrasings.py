"""Memory that users test first: the phrasings people use to ask what was said, labelled, and
the precision and recall of the concepts that answer them (on the starter model's words).

None of these phrasings is one of the concepts' examples (dbslm/concepts/catalog.py)."""

from __future__ import annotations

from dbslm.concepts.catalog import DEFAULTS, choose_concept
from dbslm.text.tokenize import get_tokenizer

TOKENIZE = get_tokenizer("regex").tokenize
MEMORY = ("recall", "summary")

RECALL = [  # what did I say: the user's own earlier message
    "What did I ask you about a minute ago?",
    "what did i ask you a minute ago",
    "Remind me what I said",
    "What did I just ask?",
    "What was my last question?",
    "Can you repeat what I said?",
    "What did I say earlier?",
    "what did i tell you before?",
    "Do you remember what I asked you?",
    "What was the question I asked?",
    "What did I ask before that?",
    "remind me what i asked",
    "What was the last thing I said to you?",
    "what did I just tell you",
    "Repeat my question please",
    "What were my last words?",
    "What did I write a moment ago?",
    "tell me what I said before",
    "what was it that I asked you?",
    "Can you remind me what my question was?",
]
SUMMARY = [  # what did we talk about: the conversation's topics
    "What were we talking about?",
    "What have we been discussing?",
    "Remind me what we talked about",
    "Can you recap our conversation?",
    "Sum up our chat",
    "what was this conversation about?",
    "What did we talk about so far?",
    "Give me a quick summary of what we discussed",
    "what topics have we covered?",
    "Summarize what we have said",
    "Where were we?",
    "What has our chat been about?",
    "recap please",
    "What were we discussing earlier?",
    "So what did we chat about?",
    "What have we covered so far?",
    "Can you summarise the conversation?",
    "what's been said so far?",
    "Tell me what we discussed",
    "what did we discuss earlier today",
]
NEITHER = [  # questions that share their words but ask something else
    "What did you do today?",
    "What is the capital of France?",
    "Who wrote Hamlet?",
    "What is AI?",
    "What are you talking about?",
    "Do you remember the war?",
    "What did the movie say?",
    "Can you repeat the weather forecast?",
    "Remind me to buy milk",
    "What did the teacher ask?",
    "What is your question?",
    "Tell me a joke",
    "What are we going to do tomorrow?",
    "Let's talk about football",
    "What do you think about music?",
    "I said hello",
    "Hello, how are you?",
    "What is a conversation?",
    "Can you summarize the plot of Hamlet?",
    "What did you eat?",
    "What was the last movie you saw?",
    "Do you like to chat?",
    "Where were you born?",
    "What is the last thing you remember?",
    "What did they discuss in the meeting?",
]


async def test_memory_phrasings_are_answered_by_the_memory_concepts(dialog_engine):
    loaded = await dialog_engine.replier.load()
    labelled = [(p, "recall") for p in RECALL] + [(p, "summary") for p in SUMMARY] + [(p, None) for p in NEITHER]
    assert len(labelled) >= 60
    chosen = {}
    for prompt, _ in labelled:
        tokens = TOKENIZE(prompt)
        concept = choose_concept(list(DEFAULTS), tokens, loaded.background(tokens), TOKENIZE)
        chosen[prompt] = concept.name if concept else None
    fired = [p for p, _ in labelled if chosen[p] in MEMORY]
    wanted = [p for p, label in labelled if label in MEMORY]
    right = [p for p, label in labelled if label in MEMORY and chosen[p] == label]
    precision = sum(p in wanted for p in fired) / len(fired)
    recall = len([p for p in wanted if chosen[p] in MEMORY]) / len(wanted)
    wrong = {p: chosen[p] for p, label in labelled if chosen[p] != label}
    assert precision >= 0.95 and recall >= 0.9, (precision, recall, sorted(wrong.items()))
    assert len(right) >= 0.9 * len(wanted), wrong  # and the right one of the two


async def test_what_did_i_say_is_answered_with_the_users_earlier_message(dialog_engine):
    conversation = await dialog_engine.start_conversation("ann")
    assert (await dialog_engine.respond(conversation, "What did I ask you a minute ago?", seed=1)).concept != "recall"
    await dialog_engine.respond(conversation, "Do herons eat frogs?", seed=1)
    reply = await dialog_engine.respond(conversation, "What did I ask you a minute ago?", seed=2)
    assert reply.concept == "recall" and reply.text == "You said: \u201cDo herons eat frogs?\u201d"
    again = await dialog_engine.respond(conversation, "remind me what i said", seed=3)
    assert again.text == reply.text  # the earlier memory question is not what they said
    await dialog_engine.respond(conversation, "herons are tall", seed=4)
    unended = await dialog_engine.respond(conversation, "What did I just say?", seed=5)
    assert unended.text == "You said: \u201cherons are tall\u201d"  # whole: nothing drawn after it
