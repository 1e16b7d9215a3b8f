"""Structured logs: one line per event, fields as data."""

from __future__ import annotations

import io
import json
import logging

from monitor.logs import setup_logging


def test_json_lines_carry_fields() -> None:
    buf = io.StringIO()
    setup_logging("json", "info", buf)
    logging.getLogger("omniwatch.test").info("probe_failed", extra={"target": "t", "n": 2})
    logging.getLogger("omniwatch.test").debug("hidden")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["event"] == "probe_failed"
    assert doc["target"] == "t"
    assert doc["n"] == 2
    assert doc["level"] == "info"


def test_text_lines_quote_spaces() -> None:
    buf = io.StringIO()
    setup_logging("text", "info", buf)
    logging.getLogger("omniwatch.test").warning("x", extra={"detail": "a b", "k": "v"})
    line = buf.getvalue().strip()
    assert line.endswith('warn  x detail="a b" k=v') or 'detail="a b" k=v' in line
    assert "\n" not in line
