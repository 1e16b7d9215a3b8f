"""Structured logging: one line per event, ``text`` for people, ``json`` for machines.

Events are short snake_case names (``probe_failed``); facts go in ``extra={...}`` and
are rendered as fields.  Secrets never reach a log call: configuration values are not
logged, only names and paths.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """``{"ts":…,"level":…,"logger":…,"event":…, fields…}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        doc.update(_fields(record))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-29T05:00:00Z info  probe_failed target=app-api reason=timeout``."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = " ".join(f"{k}={_text(v)}" for k, v in _fields(record).items())
        line = f"{ts} {record.levelname.lower():<5} {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def json_logging() -> bool:
    """Whether :func:`setup_logging` chose ``json``: output that would otherwise be a
    plain stderr line (a refused configuration) is then a JSON event too."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def setup_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Route all ``omniwatch.*`` logging to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log would add a line per scrape; Prometheus scrapes are not events.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
