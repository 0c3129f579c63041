"""What the bot counts for its operators, as Prometheus metrics (served at ``/metrics`` by
``dbslm-bot`` when ``BOT_HTTP_PORT`` is set). Only a process that serves them counts: the bot
makes them with :func:`metrics`; a command-line run would count into nothing, and does not
even load prometheus_client (20 ms of its start)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbslm.errors import DbslmError

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram


@dataclass(frozen=True)
class Metrics:
    """The process's metrics."""

    messages: Counter
    answers: Counter
    answer_seconds: Histogram
    trainings: Counter
    training_seconds: Histogram
    errors: Counter
    queued: Gauge


_metrics: Metrics | None = None  # made by the first call of metrics()


def metrics() -> Metrics:
    """The metrics, made and registered with prometheus_client's registry at the first call."""
    global _metrics
    if _metrics is None:
        from prometheus_client import Counter, Gauge, Histogram

        _metrics = Metrics(
            messages=Counter("dbslm_messages", "Messages handed to the bot", ["platform"]),
            answers=Counter(
                "dbslm_answers", "Answers sent: replies to messages, command answers and refusals", ["kind"]
            ),
            answer_seconds=Histogram(
                "dbslm_answer_seconds",
                "Time from a message to its answer",
                ["kind"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            ),
            trainings=Counter("dbslm_trainings", "Builds that went live: texts learned or forgotten", ["kind"]),
            training_seconds=Histogram(
                "dbslm_training_seconds",
                "Time a build took",
                buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
            ),
            errors=Counter(
                "dbslm_errors", "Failures: messages the bot could not handle, builds that failed", ["where"]
            ),
            queued=Gauge("dbslm_learning_queue_messages", "Listened messages waiting for their batch"),
        )
    return _metrics


@contextmanager
def training(kind: str) -> Iterator[None]:
    """Count the build made in the block (``kind``: learn or forget) and its time, in a process
    that made the metrics; a failure other than refused input (a :class:`DbslmError`) counts
    as an error."""
    started = time.perf_counter()
    try:
        yield
    except DbslmError:
        raise
    except Exception:
        if _metrics is not None:
            _metrics.errors.labels("training").inc()
        raise
    if _metrics is not None:
        _metrics.trainings.labels(kind).inc()
        _metrics.training_seconds.observe(time.perf_counter() - started)
