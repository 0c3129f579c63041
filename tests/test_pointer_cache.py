"""The pointer cache: a copy continues where it stands in its sequence; a reply that left every
sequence is matched by its longest suffix anywhere."""

from __future__ import annotations

from dbslm.engine import DBSLMEngine
from dbslm.memory.cache import CachedSequence, PointerCache
from dbslm.text.vocab import EOS, SEP

LINE = list(range(10, 19))  # nine tokens: longer than a suffix lookup's MAX_MATCH
SEQUENCE = CachedSequence((SEP, *LINE, 20, *LINE, 21, EOS), 1.0)
CODE = "```\nconst res = await fetch(url);\nshow(res);\nconst res = await fetch(url);\nsave(res);\n```"


def test_a_copy_continues_where_it_stands_though_its_last_tokens_recur():
    cache = PointerCache([SEQUENCE])
    assert cache.proposal([SEP, *LINE, 20, *LINE]) == ({21: 1.0}, 1.0)
    assert cache.proposal([SEP, *LINE]) == ({20: 1.0}, 1.0)


def test_a_reply_that_left_its_sequences_is_matched_by_its_longest_suffix_anywhere():
    other = CachedSequence((SEP, 30, 12, 13, 40, EOS), 0.5)
    cache = PointerCache([SEQUENCE, other])
    assert cache.proposal([SEP, 99, 12, 13]) == ({14: 2 / 2.5, 40: 0.5 / 2.5}, 1.0)
    assert cache.proposal([SEP, 99, 98]) == ({}, 0.0)


async def test_a_learned_code_answer_with_a_repeated_line_is_copied_whole(tmp_path):
    engine = await DBSLMEngine.open(str(tmp_path / "code.sqlite3"))
    await engine.train_dialog([("show me the fetch helpers", CODE), ("hello there", "Hi!")])
    conversation = await engine.start_conversation("ann")
    replies = [(await engine.respond(conversation, "show me the fetch helpers", seed=seed)).text for seed in range(6)]
    await engine.close()
    assert replies == [CODE] * 6
