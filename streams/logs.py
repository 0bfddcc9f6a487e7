"""JSON log lines (`PULSE_LOG_FORMAT=json`): one object per line, with the record's
topic, partition and offset when a log call passes them as `extra`.

>>> import logging
>>> record = logging.LogRecord("pulse.worker", logging.ERROR, "f.py", 1, "failed", None, None)
>>> record.topic, record.partition, record.offset = "clicks", 2, 41
>>> JsonFormatter().format(record)[:60]
'{"level":"error","logger":"pulse.worker","message":"failed",'
>>> record.created = 1767225600.25
>>> orjson.loads(JsonFormatter().format(record))["time"]  # RFC 3339, UTC, milliseconds
'2026-01-01T00:00:00.250Z'
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from streams.core.timefmt import format_ts

CONTEXT_FIELDS = ("topic", "partition", "offset", "event_id", "error")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "time": format_ts(int(record.created * 1000)),  # RFC 3339 UTC, milliseconds
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def json_logging(level: str) -> dict[str, Any]:
    """A logging.config dict: everything as JSON lines on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "json"},
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }
