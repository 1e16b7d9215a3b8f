"""The browser probe's pure parts: error classification, page read-outs, screenshot files.

No browser needed: these run everywhere.
"""

from __future__ import annotations

import calendar
from pathlib import Path

import pytest

from probes import _web_vitals
from probes.browser import PageEvents, _classify, prune_screenshots, screenshot_name


@pytest.mark.parametrize(("error", "expected"), [
    ("Page.goto: net::ERR_NAME_NOT_RESOLVED at https://x.invalid/",
     ("dns", "ERR_NAME_NOT_RESOLVED")),
    ("net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/", ("connect_refused",
                                                            "ERR_CONNECTION_REFUSED")),
    ("net::ERR_CONNECTION_RESET at http://a/", ("connect_error", "ERR_CONNECTION_RESET")),
    ("net::ERR_ADDRESS_UNREACHABLE at http://a/", ("connect_error", "ERR_ADDRESS_UNREACHABLE")),
    ("net::ERR_CERT_DATE_INVALID at https://a/", ("tls", "ERR_CERT_DATE_INVALID")),
    ("net::ERR_SSL_PROTOCOL_ERROR at https://a/", ("tls", "ERR_SSL_PROTOCOL_ERROR")),
    ("net::ERR_TIMED_OUT at https://a/", ("timeout", "ERR_TIMED_OUT")),
    ("net::ERR_EMPTY_RESPONSE at http://a/", ("protocol", "ERR_EMPTY_RESPONSE")),
    ("Target page, context or browser has been closed\nCall log:\n  - <p>secret</p>",
     ("browser_error", "Target page, context or browser has been closed")),
])
def test_classify_navigation_errors(error: str, expected: tuple[str, str]) -> None:
    assert _classify(Exception(error)) == expected


def test_classify_keeps_only_a_short_first_line() -> None:
    reason, message = _classify(Exception("x" * 500 + "\nCall log: more"))
    assert reason == "browser_error"
    assert len(message) == 160
    assert message.endswith("…")


def test_measurements_keep_known_finite_numbers_only() -> None:
    raw = {"ttfb_seconds": 0.05, "fcp_seconds": 1, "lcp_seconds": "2", "cls": True,
           "load_seconds": -1.0, "dom_content_loaded_seconds": float("inf"), "other": 3.0}
    assert _web_vitals.measurements(raw) == {"ttfb_seconds": 0.05, "fcp_seconds": 1.0}
    assert _web_vitals.measurements(None) == {}
    assert _web_vitals.measurements([1, 2]) == {}


def test_short_url_drops_query_and_shows_the_path_on_the_page_origin() -> None:
    events = PageEvents(origin="https://bank.example")
    assert events.short_url("https://bank.example/static/app.js?token=s3cret#x") == (
        "/static/app.js")
    assert events.short_url("https://bank.example") == "/"
    assert events.short_url("https://cdn.example/lib.js?v=1") == "https://cdn.example/lib.js"


def test_screenshot_name_is_utc_and_safe_for_a_path() -> None:
    now = calendar.timegm((2026, 12, 2, 1, 2, 3))
    assert screenshot_name("web-transfer", now) == "web-transfer-20261202T010203Z.png"
    assert screenshot_name("../a b/c", now) == ".._a_b_c-20261202T010203Z.png"


def test_prune_keeps_the_newest_screenshots_and_other_files(tmp_path: Path) -> None:
    names = ["b-20260101T000000Z.png", "a-20260102T000000Z.png", "c-20251231T235959Z.png",
             "a-20260103T000000Z.png"]
    for name in names:
        (tmp_path / name).write_bytes(b"png")
    (tmp_path / "keep.png").write_bytes(b"not ours")
    deleted = prune_screenshots(tmp_path, 2)
    assert sorted(p.name for p in deleted) == ["b-20260101T000000Z.png",
                                               "c-20251231T235959Z.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-20260102T000000Z.png", "a-20260103T000000Z.png", "keep.png"]
    assert prune_screenshots(tmp_path, 5) == []


class _PageError(Exception):
    """What Playwright hands a ``pageerror`` handler: a name, a message, a stack."""

    def __init__(self, name: object, stack: object) -> None:
        super().__init__("secret message")
        self.name = name
        self.stack = stack


@pytest.mark.parametrize(("name", "stack", "expected"), [
    ("TypeError", "TypeError: reading 's3cret'\n    at f (https://bank.example/app.js?t=1:12:5)"
     "\n    at https://bank.example/main.js:3:1", "/app.js:12 (TypeError)"),
    ("Error", "Error: x\n    at https://cdn.example/lib.js:7:9",
     "https://cdn.example/lib.js:7 (Error)"),
    # A thrown object's "name" may be anything: shown only if it looks like an error's.
    ("hunter2", "hunter2: x\n    at https://bank.example/a.js:1:1", "/a.js:1 (error)"),
    ("DOMException", "DOMException: at https://bank.example/fake.js:9:9", "(DOMException)"),
    (None, None, "(error)"),
])
def test_an_uncaught_error_is_told_by_where_and_name_only(
        name: object, stack: object, expected: str) -> None:
    events = PageEvents(origin="https://bank.example")
    events._page_error(_PageError(name, stack))
    assert events.uncaught_errors.first == expected
    at = "" if expected.startswith("(") else "at "
    assert events.console_message() == f"1 uncaught error, first {at}{expected}"


def test_console_message_counts_each_kind() -> None:
    events = PageEvents()
    assert events.console_message() == ""
    for _ in range(3):
        events.console_errors.add(lambda: "/app.js:2")
    events.uncaught_errors.add(lambda: "")
    assert events.console_message() == "3 console errors, first at /app.js:2; 1 uncaught error"
