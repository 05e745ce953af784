"""Structured logs: every record carries the requestId, threadId and userId of its turn.

The ids live in a context variable set when a turn starts; asyncio copies context into the
tasks a turn spawns, so the run's own logs carry them too.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

import orjson

turn_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "turn_context", default=None
)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ids = turn_context.get()
        if ids:
            for key, value in ids.items():
                setattr(record, key, value)
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={getattr(record, k)}" for k in ("requestId", "threadId", "userId", "principal")
               if hasattr(record, k)]  # fmt: skip
        return f"{line} [{' '.join(ids)}]" if ids else line


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's ``log_config``: uvicorn applies it in every
    worker process, so each one logs in the chosen format with the turn's ids."""
    formatter = (
        "app.observability.logs.JSONFormatter"
        if fmt == "json"
        else "app.observability.logs.TextFormatter"
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"turn": {"()": "app.observability.logs.ContextFilter"}},
        "formatters": {"main": {"()": formatter}},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["turn"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["main"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
