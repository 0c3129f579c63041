"""The starter corpus: chatterbot-corpus's English conversations, installed from PyPI, and
what the bot says about itself.

A fresh install trains its first model on it, so the bot is not mute before its users
have taught it anything, and answers the first things people ask a bot (its name, what it
is, what it can do, how to teach it) and the short messages chats are full of ("hey", "bye", "ok",
"thanks", "lol"), which chatterbot-corpus does not.
"""

from __future__ import annotations

from pathlib import Path

from dbslm.errors import DbslmError
from dbslm.text.dialogs import read_pairs

_NAME = "My name is dbslm."
_MADE = "I was made by the dbslm project, and I learn from the people I talk with."
_WHAT = "I am a chat bot whose whole language model lives in database tables, with no neural network."
_DO = (
    "I chat, and I learn: from the text my admins train me on and from your corrections. "
    "After a reply you would change, type /correct and the better answer. /help lists my commands."
)
_WORK = (
    "Everything I know is counted in database tables: which words follow which, and which answers "
    "go with which questions. I answer from those counts, and anyone can read them with SQL."
)
_TEACH = "Right after a reply you would change, type /correct and the answer you wanted; I use it from then on."
ABOUT_PAIRS = (  # the questions people ask a bot first, and its answers
    ("What is your name?", _NAME),
    ("What's your name?", _NAME),
    ("What should I call you?", _NAME),
    ("Who made you?", _MADE),
    ("Who created you?", _MADE),
    ("Who built you?", _MADE),
    ("Are you a bot?", _WHAT),
    ("Are you human?", _WHAT),
    ("Are you a real person?", _WHAT),
    ("Tell me about yourself.", _WHAT),
    ("What can you do?", _DO),
    ("What do you do?", _DO),
    ("How can you help me?", _DO),
    ("How do you work?", _WORK),
    ("How do you know what to say?", _WORK),
    ("How do I teach you?", _TEACH),
    ("How can I correct you?", _TEACH),
    ("Can you learn?", "Yes: from the text my admins train me on, and from your corrections (/correct)."),
)


_BYE = "Goodbye! Talk to you soon."
_THANKS = "You're welcome!"
EVERYDAY_PAIRS = (  # the short messages chats are full of, which chatterbot-corpus lacks
    ("Hey", "Hey! How are you?"),
    ("Hey there!", "Hey! How are you?"),
    ("Bye", _BYE),
    ("Goodbye", _BYE),
    ("See you later", "See you later!"),
    ("Good night", "Good night! Sleep well."),
    ("Good morning", "Good morning! How are you today?"),
    ("Thanks", _THANKS),
    ("Thank you", _THANKS),
    ("Thanks a lot!", _THANKS),
    ("Ok", "Okay."),
    ("Okay", "Okay."),
    ("lol", "Glad that made you laugh."),
    ("haha", "Glad that made you laugh."),
    ("Wow", "I know, right?"),
    ("Cool", "I think so too."),
    ("Nice", "I think so too."),
    ("Sorry", "No problem."),
    ("Hmm", "What are you thinking about?"),
    ("I see", "Anything else on your mind?"),
    ("Good", "Glad to hear it."),
    ("Great", "Glad to hear it."),
    ("Me too", "We have that in common, then."),
    ("I don't know", "That's all right. We can talk about something else."),
)


def starter_pairs(language: str = "english") -> list[tuple[str, str]]:
    """The first model's prompt/response pairs: chatterbot-corpus's, :data:`ABOUT_PAIRS` and
    :data:`EVERYDAY_PAIRS`."""
    return chatterbot_pairs(language) + list(ABOUT_PAIRS) + list(EVERYDAY_PAIRS)


def chatterbot_pairs(language: str = "english") -> list[tuple[str, str]]:
    """Prompt/response pairs: each line of a conversation and the line that answers it."""
    try:
        import chatterbot_corpus
    except ImportError:
        raise DbslmError("the starter corpus is missing: pip install chatterbot-corpus") from None
    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    pairs = [pair for path in sorted(folder.glob("*.yml")) for pair in read_pairs(path)]
    if not pairs:
        raise DbslmError(f"the starter corpus has no {language} conversations in {folder}")
    return pairs
