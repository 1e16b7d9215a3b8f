"""How the HTTP providers (Alertmanager and webhook) classify what a server answers, or
fails to: real local servers on port 0 answering each status, a closed port, a server
that accepts and never answers, one that hangs up at once.  Then the pure helpers.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest

from alerts.config import Receiver
from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.providers import Provider, RenderOptions, build_provider
from alerts.providers.httppost import (
    ERROR_TEXT_MAX,
    classify,
    error_text,
    redact_url,
    retry_after_seconds,
)
from tests.alerts.httpkit import (
    Answer,
    am_receiver,
    notification,
    recorder,
    snap,
    webhook_receiver,
)
from tests.servers import close_at_once, closed_port, hang, tcp_server

T0 = 1_700_000_000.0
NOTE = notification(snap("firing", T0, alertname="TargetDown", target="t"))

RECEIVERS: dict[str, Callable[[str, float], Receiver]] = {
    "alertmanager": lambda url, timeout: am_receiver(url, timeout=timeout),
    "webhook": lambda url, timeout: webhook_receiver(url, "whsec_" + "A" * 32,
                                                     timeout=timeout),
}


def _provider(kind: str, url: str, timeout: float = 5.0) -> Provider:
    return build_provider(RECEIVERS[kind](url, timeout), RenderOptions())


async def _send_error(kind: str, url: str, timeout_seconds: float = 5.0) -> DeliveryError:
    provider = _provider(kind, url, timeout_seconds)
    try:
        with pytest.raises(DeliveryError) as info:
            await provider.send(NOTE, None)
    finally:
        await provider.close()
    return info.value


KINDS = pytest.mark.parametrize("kind", sorted(RECEIVERS))

ANSWERS = [
    # status, body, headers, permanent, message
    (400, b'"at least one label pair required"', {}, True,
     "http_400: at least one label pair required"),
    (401, b"", {}, True, "http_401"),
    (404, b"404 page not found\n", {}, True, "http_404: 404 page not found"),
    (410, b"gone", {}, True, "http_410: gone"),
    (422, b'{"code":602,"message":"0.labels in body is required"}', {}, True,
     "http_422: 0.labels in body is required"),
    (408, b"", {}, False, "http_408"),
    (429, b"slow down", {"Retry-After": "7"}, False, "http_429: slow down"),
    (500, b"internal error", {}, False, "http_500: internal error"),
    (502, b"", {}, False, "http_502"),
    (503, b"", {"Retry-After": "120"}, False, "http_503"),
]


@KINDS
@pytest.mark.parametrize(("status", "body", "headers", "permanent", "message"), ANSWERS,
                         ids=[str(a[0]) for a in ANSWERS])
async def test_status_is_classified(kind: str, status: int, body: bytes,
                                    headers: dict[str, str], permanent: bool,
                                    message: str) -> None:
    async with recorder(Answer(status, body, headers)) as rec:
        error = await _send_error(kind, rec.url + "/x")
    assert error.permanent is permanent
    assert isinstance(error, PermanentError if permanent else RetryableError)
    assert error.code == f"http_{status}"
    assert str(error) == message
    expected_wait = float(headers["Retry-After"]) if "Retry-After" in headers else None
    assert error.retry_after == expected_wait
    assert len(rec.received) == 1


@KINDS
async def test_retry_after_as_an_http_date(kind: str) -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    async with recorder(Answer(503, b"", {"Retry-After": when})) as rec:
        error = await _send_error(kind, rec.url)
    assert isinstance(error, RetryableError)
    assert error.retry_after is not None
    assert 60 < error.retry_after <= 120


@KINDS
async def test_a_redirect_is_not_followed_and_is_permanent(kind: str) -> None:
    async with recorder(Answer(302, b"", {"Location": "/elsewhere"})) as rec:
        error = await _send_error(kind, rec.url + "/old")
    assert isinstance(error, PermanentError)
    assert error.code == "http_302"
    assert [r.path.split("/")[1] for r in rec.received] == ["old"]


@KINDS
async def test_a_long_error_page_is_cut_short_at_a_word(kind: str) -> None:
    page = ("word " * 2000).encode()
    async with recorder(Answer(400, page)) as rec:
        error = await _send_error(kind, rec.url)
    text = str(error)
    assert text.startswith("http_400: word word")
    assert text.endswith("word…")
    assert len(text) <= len("http_400: ") + ERROR_TEXT_MAX + 1


@KINDS
async def test_a_2xx_is_accepted(kind: str) -> None:
    async with recorder(Answer(204)) as rec:
        provider = _provider(kind, rec.url)
        try:
            assert await provider.send(NOTE, None) == {"status": "204"}
        finally:
            await provider.close()


@KINDS
async def test_a_closed_port_is_retryable_and_names_no_credentials(kind: str) -> None:
    port = closed_port()
    error = await _send_error(kind, f"http://ops:hunter2@127.0.0.1:{port}/hook/tok3n?k=s3")
    assert isinstance(error, RetryableError)
    assert error.code == "connection"
    assert str(error).startswith(f"http://127.0.0.1:{port}: ClientConnectorError")
    for secret in ("hunter2", "ops", "tok3n", "s3"):
        assert secret not in str(error)


@KINDS
async def test_a_server_that_never_answers_times_out(kind: str) -> None:
    async with tcp_server(hang) as served:
        error = await _send_error(kind, f"http://127.0.0.1:{served.port}/", timeout_seconds=0.3)
    assert isinstance(error, RetryableError)
    assert error.code == "timeout"
    assert str(error) == f"no answer from http://127.0.0.1:{served.port} in time"


@KINDS
async def test_a_server_that_hangs_up_is_retryable(kind: str) -> None:
    async with tcp_server(close_at_once) as served:
        error = await _send_error(kind, f"http://127.0.0.1:{served.port}/")
    assert isinstance(error, RetryableError)
    assert error.code == "connection"


@KINDS
@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x"])
async def test_a_url_that_cannot_be_posted_to_is_permanent(kind: str, url: str) -> None:
    error = await _send_error(kind, url)
    assert isinstance(error, PermanentError)
    assert error.code == "invalid_url"


@KINDS
async def test_one_session_is_reused_and_reopened_after_close(kind: str) -> None:
    async with recorder() as rec:
        provider = _provider(kind, rec.url)
        try:
            await provider.send(NOTE, None)
            await provider.send(NOTE, None)
            await provider.close()
            await provider.send(NOTE, None)
        finally:
            await provider.close()
    assert len(rec.received) == 3


# --- the pure helpers ------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    (None, None), ("", None), ("7", 7.0), (" 30 ", 30.0), ("1.5", 1.5), ("soon", None),
    ("-3", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    (email.utils.formatdate(T0 + 90, usegmt=True), 90.0),
])
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, T0) == seconds


@pytest.mark.parametrize(("body", "text"), [
    (b'"start time must be before end time"', "start time must be before end time"),
    (b'{"code":602,"message":"labels in body is required"}', "labels in body is required"),
    (b'{"error":"nope"}', "nope"),
    (b"  two\n  lines \r\n", "two lines"),
    (b"\xff\xfe broken", "\ufffd\ufffd broken"),
    (b"", ""),
])
def test_error_text(body: bytes, text: str) -> None:
    assert error_text(body) == text


def test_error_text_without_spaces_is_cut_at_the_limit() -> None:
    assert error_text(b"x" * 500, limit=10) == "x" * 10 + "…"


def test_classify_accepts_every_2xx_only() -> None:
    assert classify(200, b"", None, T0) is None
    assert classify(299, b"", None, T0) is None
    error = classify(300, b"", None, T0)
    assert error is not None
    assert error.permanent


@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:pw@127.0.0.1:9093/am?token=x#frag", "http://127.0.0.1:9093"),
    ("https://hooks.example/services/T000/B000/XXXX", "https://hooks.example"),
    ("https://h:443/", "https://h"),
    ("nonsense", "<invalid url>"),
    ("http://", "<invalid url>"),
])
def test_redact_url_keeps_the_origin_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown
