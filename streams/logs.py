"""Structured (JSON) log lines: one object per line, with asset and event ids when known."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

_CONTEXT_FIELDS = ("asset", "event_id", "topic", "partition", "offset", "error_type")


class JsonFormatter(logging.Formatter):
    """Formats a log record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON: time, level, logger, message, context fields and exception."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def keep_only_json_handlers() -> None:
    """Faust adds its own console handler next to ours; in JSON mode only JSON lines remain."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not isinstance(handler.formatter, JsonFormatter):
            root.removeHandler(handler)


def json_handler() -> logging.Handler:
    """A stderr handler that writes JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    return handler
