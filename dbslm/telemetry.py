"""What the bot counts for its operators, as Prometheus metrics (served at ``/metrics`` by
``dbslm-bot`` when ``BOT_HTTP_PORT`` is set). Every process counts; only the bot exports."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from dbslm.errors import DbslmError

MESSAGES = Counter("dbslm_messages", "Messages handed to the bot", ["platform"])
ANSWERS = Counter("dbslm_answers", "Answers sent: replies to messages, command answers and refusals", ["kind"])
ANSWER_SECONDS = Histogram(
    "dbslm_answer_seconds",
    "Time from a message to its answer",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TRAININGS = Counter("dbslm_trainings", "Builds that went live: texts learned or forgotten", ["kind"])
TRAINING_SECONDS = Histogram(
    "dbslm_training_seconds",
    "Time a build took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
ERRORS = Counter("dbslm_errors", "Failures: messages the bot could not handle, builds that failed", ["where"])
QUEUED = Gauge("dbslm_learning_queue_messages", "Listened messages waiting for their batch")


@contextmanager
def training(kind: str) -> Iterator[None]:
    """Count the build made in the block (``kind``: learn or forget) and its time; a failure
    other than refused input (a :class:`DbslmError`) counts as an error."""
    started = time.perf_counter()
    try:
        yield
    except DbslmError:
        raise
    except Exception:
        ERRORS.labels("training").inc()
        raise
    TRAININGS.labels(kind).inc()
    TRAINING_SECONDS.observe(time.perf_counter() - started)
