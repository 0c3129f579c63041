"""A community at scale: history backfill, model size, replies and one exact /forget.

    python3 bench/community_bench.py [--messages 1000000] [--mariadb URL] [--record]

Messages are made from the pentateuch text (bench/corpus.py's variants, cut into chat-sized
pieces of 4 to 16 words), spread over 2,000 users, one of whom wrote 10,000 of them. They
reach the bot core through ``/train history`` from an in-process history reader that serves
pages of 1,000, the way an adapter's reader does. Then: the database size, p50/p95 of replies
to mentions, and the time of ``/forget confirm`` for the 10,000-message user (exact: their
counts are subtracted and the model rebuilt).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app import collector  # noqa: E402
from bench.corpus import write_corpus  # noqa: E402
from bench.measure import bench_main, machine_line  # noqa: E402
from bot.core import BotCore  # noqa: E402
from bot.events import Message  # noqa: E402
from bot.settings import BotSettings  # noqa: E402
from dbslm.domain import ChannelMessage  # noqa: E402
from dbslm.engine import DBSLMEngine  # noqa: E402
from dbslm.listening.backfill import MAX_LIMIT, HistoryPage  # noqa: E402
from dbslm.starter import starter_pairs  # noqa: E402

SETTINGS = BotSettings(
    admins=frozenset({"bench:admin"}),
    user_rate=10**9,
    channel_rate=10**9,
    rate_window=60,
    max_upload_mb=1,
    chance_seed=1,
)
HEAVY_USER, HEAVY_COUNT, USERS, PAGE = "u0", 10_000, 2_000, 1_000
LISTENED = 50  # messages in a listening batch that should go live within a second


def make_messages(count: int, folder: Path) -> list[Message]:
    """``count`` chat messages, newest first, as a channel's history holds them."""
    corpus = folder / "corpus.txt"
    write_corpus(corpus)
    words = corpus.read_text(encoding="utf-8").split()
    rng = random.Random(1)
    heavy = set(rng.sample(range(count), heavy_count(count)))
    messages, at = [], 0
    for i in range(count):
        size = rng.randint(4, 16)
        if at + size > len(words):
            at = 0
        user = HEAVY_USER if i in heavy else f"u{rng.randrange(1, USERS)}"
        messages.append(Message("bench", "w1", "c1", user, " ".join(words[at : at + size]), message_id=str(i)))
        at += size
    messages.reverse()
    return messages


def heavy_count(count: int) -> int:
    """How many messages the heaviest user wrote: 10,000, or a tenth of a small community's."""
    return min(HEAVY_COUNT, count // 10)


def reader(messages: list[Message]):
    """A history API over ``messages``: pages of PAGE, the cursor an offset."""

    async def read(cursor: str | None) -> HistoryPage:
        start = int(cursor or 0)
        end = start + PAGE
        return HistoryPage(messages[start:end], str(end) if end < len(messages) else None)

    return read


async def run(args: argparse.Namespace, folder: Path) -> list[str]:
    messages = make_messages(args.messages, folder)
    target = args.mariadb or str(folder / "community.sqlite3")
    engine = await DBSLMEngine.open(target)
    if (await engine.stats())["trained"]:  # an earlier run's models would make every number wrong
        await engine.close()
        raise SystemExit(f"community_bench: {target} already holds a model; give it an empty database")
    await engine.train_dialog(starter_pairs(), source="starter")
    core = BotCore(engine, SETTINGS)
    await core.start()  # as the bot's process starts
    collector.settle()
    out: list[str] = []

    async def send(text: str, *, private: bool = False) -> None:
        out.append(text)

    async def ask(text: str, user: str = "admin", **flags) -> None:
        await core.handle(Message("bench", "w1", "c1", user, text, **flags), send)

    started = time.perf_counter()
    learned_lines = []
    while not learned_lines or "There is more" in learned_lines[-1]:  # one run reads up to MAX_LIMIT
        await ask(f"/train history {MAX_LIMIT}", is_admin=True, history=reader(messages))
        await core.commands.wait_for_training()
        learned_lines.append(out[-1])
    backfill = time.perf_counter() - started
    learned_line = " ".join(learned_lines)
    community = await core.communities.engine_named("bench:w1")
    stats = await community.stats()
    size = await community.store.db.size_bytes()
    server = await server_settings(community.store.db)
    latencies = []
    prompts = [m.text for m in random.Random(2).sample(messages, 200)]
    for i, prompt in enumerate(prompts):
        begun = time.perf_counter()
        await ask(prompt, user=f"asker{i % 50}", mentions_bot=True)
        latencies.append((time.perf_counter() - begun) * 1000)
    latencies.sort()
    begun = time.perf_counter()
    problem = await core.health()  # a container's health probe and each metrics scrape: the queue's gauge
    health = (time.perf_counter() - begun) * 1000
    listened = await listening_batch(community, messages)
    await ask("/forget", user=HEAVY_USER)
    begun = time.perf_counter()
    await ask("/forget confirm", user=HEAVY_USER)
    forget = time.perf_counter() - begun
    after = await community.stats()
    await engine.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = "MariaDB" if args.mariadb else "SQLite"
    grams = ", ".join(f"{c:,}" for _, c in sorted(stats["ngrams"].items()))
    return [
        machine_line(f"Community at scale, {backend}"),
        "",
        f"Command: `python3 bench/community_bench.py --messages {args.messages}"
        f"{' --mariadb URL' if args.mariadb else ''}`; {len(messages):,} messages from {USERS:,} users "
        f"({heavy_count(len(messages)):,} from one), 4-16 words each, through `/train history` in pages of "
        f"{PAGE:,}.{server}",
        "",
        "| stage | result |",
        "|---|---|",
        f"| backfill | {backfill:.1f} s, {len(messages) / backfill:,.0f} messages/s ({learned_line}) |",
        f"| model | {stats['tokens']:,} tokens; n-grams per order {grams}; database {size / 2**20:,.0f} MB |",
        f"| peak RSS | {rss:,.0f} MB |",
        f"| replies to 200 mentions | p50 {latencies[100]:.1f} ms, p95 {latencies[190]:.1f} ms |",
        f"| a health check (the queue's gauge) | {health:.1f} ms{f': {problem}' if problem else ''} |",
        f"| a listening batch of {LISTENED} new messages, queued to live | {listened:.2f} s |",
        f"| /forget of {heavy_count(len(messages)):,} messages | {forget:.1f} s; tokens {stats['tokens']:,} -> "
        f"{after['tokens']:,} ({out[-1]}) |",
        "",
        "Targets (#17): backfill at least 30,000 messages/s; reply p95 under 30 ms at 1M messages (50 ms at "
        "10M); /forget of 10,000 messages under 3 s at 1M (10 s at 10M); a batch of 50 live within a second.",
    ]


async def server_settings(db) -> str:
    """The MariaDB server's cache sizes, which move every figure (empty on SQLite)."""
    if db.dialect.name != "mariadb":
        return ""
    sizes = ", ".join(f"{name} {value / 2**20:,.0f} MB" for name, value in (await db.cache_sizes()).items())
    return f" MariaDB server: {sizes}."


async def listening_batch(community: DBSLMEngine, messages: list[Message]) -> float:
    """Seconds from queueing LISTENED new channel messages (old ones, their words reversed) to
    the model that holds them going live: what listening does with each batch."""
    texts = [" ".join(reversed(m.text.split())) for m in random.Random(3).sample(messages, LISTENED)]
    begun = time.perf_counter()
    await community.learning.queue(
        [ChannelMessage(f"bench:w1:c1:new{i}", f"listener{i}", "bench:w1:c1", text) for i, text in enumerate(texts)]
    )
    await community.learning.learn_queued()
    return time.perf_counter() - begun


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--mariadb", metavar="URL", help="run on this (empty) MariaDB database instead of SQLite")


if __name__ == "__main__":
    bench_main(__doc__, options, run)
