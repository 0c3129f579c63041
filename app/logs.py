"""The process's log: its own lines and the libraries' warnings on standard error, as plain
lines or, with ``BOT_LOG_FORMAT=json``, one JSON object a line (time, level, logger, message and
the error of a failure) for a log collector."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

OWN_LOGGERS = ("app", "bot", "adapters", "dbslm")  # at BOT_LOG_LEVEL; libraries log warnings and worse
FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(form: str, level: str) -> None:
    """Log to standard error in ``form`` (text or json), the project's own loggers at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
