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
