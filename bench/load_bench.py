"""The bot under load: many users in many channels, every message answered exactly once.

    python3 bench/load_bench.py [--users 100] [--channels 50] [--messages 2000] [--rate 100] [--record]

The bot core (the same path every adapter takes, started as the bot's process starts it) on a
SQLite model of the ~800k-token corpus plus the starter dialogs. Messages arrive at ``--rate``
per second (open loop, exponential gaps, seeded), each from a random user in a random channel,
as mentions; latency runs from arrival to the last part of the reply. Afterwards every
channel's logged conversation is read back: each message must be logged once and answered
once. A second pass sends all messages at once to find the throughput ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app import collector  # noqa: E402
from bench.corpus import write_corpus  # noqa: E402
from bench.measure import bench_main, machine_line  # noqa: E402
from bot.core import BotCore  # noqa: E402
from bot.events import Message  # noqa: E402
from bot.settings import BotSettings  # noqa: E402
from dbslm.domain import Status
from dbslm.engine import DBSLMEngine  # noqa: E402
from dbslm.starter import starter_pairs  # noqa: E402

# Rate limits above the offered load: this measures answering, not refusing.
SETTINGS = BotSettings(admins=frozenset(), user_rate=10**6, channel_rate=10**6, rate_window=60, max_upload_mb=1)


@dataclass
class Run:
    latencies_ms: list[float]
    seconds: float
    answered: dict[int, int]  # message number -> replies received


async def offer(core: BotCore, messages: list[Message], rate: float | None, seed: int) -> Run:
    """Send ``messages`` at ``rate`` per second (all at once when None) and time each reply."""
    rng = random.Random(seed)
    answered = {i: 0 for i in range(len(messages))}
    latencies: list[float] = []

    async def one(i: int, message: Message) -> None:
        arrived = time.perf_counter()
        seen: list[str] = []

        async def send(text: str, *, private: bool = False) -> None:
            seen.append(text)

        await core.handle(message, send)
        latencies.append((time.perf_counter() - arrived) * 1000)
        answered[i] += bool(seen)

    started = time.perf_counter()
    tasks = []
    for i, message in enumerate(messages):
        tasks.append(asyncio.create_task(one(i, message)))
        if rate:
            await asyncio.sleep(rng.expovariate(rate))
    await asyncio.gather(*tasks)
    return Run(sorted(latencies), time.perf_counter() - started, answered)


def traffic(users: int, channels: int, count: int, prompts: list[str], tag: str, seed: int) -> list[Message]:
    rng = random.Random(seed)
    return [
        Message(
            "bench",
            "w1",
            f"{tag}{rng.randrange(channels)}",
            f"u{rng.randrange(users)}",
            rng.choice(prompts),
            mentions_bot=True,
            message_id=f"{tag}{i}",
        )
        for i in range(count)
    ]


async def logged_counts(engine: DBSLMEngine, core: BotCore, messages: list[Message]) -> tuple[int, int]:
    """User messages and bot replies logged in the channels ``messages`` went to."""
    users = bots = 0
    for channel in {m.channel for m in messages}:
        conversation = await core.conversation_for(Message("bench", "w1", channel, "", ""))
        for logged in await engine.history(conversation, len(messages) * 2):
            users += logged.role == "user"
            bots += logged.role == "bot"
    return users, bots


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


async def bench(args: argparse.Namespace, tmp: Path) -> list[str]:
    corpus = tmp / "corpus.txt"
    tokens = write_corpus(corpus)
    engine = await DBSLMEngine.open(str(tmp / "load.sqlite3"))
    await engine.train_text(corpus.read_text().splitlines(), tokenizer="whitespace")
    pairs = starter_pairs()
    await engine.train_dialog(pairs)
    core = BotCore(engine, SETTINGS)
    await core.start()  # as the bot's process starts
    collector.settle()
    prompts = [p for p, _ in pairs]
    rows = []
    for label, rate, tag in ((f"{args.rate:g} messages/s offered", args.rate, "paced"), ("all at once", None, "burst")):
        messages = traffic(args.users, args.channels, args.messages, prompts, tag, args.seed)
        for channel in {m.channel for m in messages} if args.listen else ():
            await core.handle(Message("bench", "w1", channel, "admin", "/listen on", is_admin=True), _drop)
        run = await offer(core, messages, rate, args.seed)
        users, bots = await logged_counts(engine, core, messages)
        once = sum(n == 1 for n in run.answered.values())
        rows.append(
            f"| {label} | {len(messages):,} | {once:,} | {users:,} / {bots:,} | "
            f"{percentile(run.latencies_ms, 0.5):.1f} ms | {percentile(run.latencies_ms, 0.95):.1f} ms | "
            f"{len(messages) / run.seconds:,.0f} |"
        )
    await core.close()
    community = await core.communities.engine_named("bench:w1")
    learned = len(await community.learning.messages(status=Status.LEARNED))
    await engine.close()
    listening = (
        f" Every channel listened: {learned:,} messages learned in batches of {SETTINGS.listen_batch} while replying."
        if args.listen
        else ""
    )
    return [
        machine_line("Bot load, SQLite" + (", listening" if args.listen else "")),
        "",
        f"Command: `python3 bench/load_bench.py --users {args.users} --channels {args.channels} "
        f"--messages {args.messages} --rate {args.rate:g}{' --listen' if args.listen else ''}`; model: "
        f"{tokens:,}-token corpus plus "
        f"{len(pairs):,} starter dialog pairs; messages are mentions through BotCore.handle, the path every "
        f"adapter takes.{listening}",
        "",
        "| arrivals | messages | answered exactly once | logged user / bot messages | p50 latency | "
        "p95 latency | replies/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Targets (#17): p95 under 50 ms at 100 messages/s, with and without listening; every message logged and "
        "answered once; all at once, at least 250 replies/s.",
    ]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second offered")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--listen", action="store_true", help="listen in every channel: learn while replying")


async def _drop(text: str, *, private: bool = False) -> None:
    """Where the setup commands' answers go."""


if __name__ == "__main__":
    bench_main(__doc__, options, bench)
