"""Pure helpers of the http probe: expectations, request building, redirects, errors."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from typing import Any

import pytest
import trustme
from yarl import URL

from monitor.config.model import HttpExpect
from probes import _http_expect as expect
from probes import _http_request as req
from probes._http_errors import BAD_BODY, ProtocolError, classify
from probes._x509 import not_after_timestamp

# --- pure helpers ------------------------------------------------------------------------------


def test_lookup_paths() -> None:
    doc = {"a": {"b": [10, {"c": None}]}, "x.y": 1}
    assert expect.lookup(doc, "a.b.0") == 10
    assert expect.lookup(doc, "a.b.1.c") is None
    for missing in ("a.b.2", "a.b.-1", "a.b.c", "a.z", "a.b.0.q", "x.y"):
        assert expect.lookup(doc, missing) is expect._MISSING


def test_same_json_value() -> None:
    assert expect.same_json_value(1, 1.0)
    assert expect.same_json_value(True, True)
    assert not expect.same_json_value(True, 1)
    assert not expect.same_json_value(0, False)
    assert not expect.same_json_value("1", 1)


def test_check_status_messages() -> None:
    assert expect.check_status(200, ()) is None
    assert expect.check_status(302, ()) == ("http_status", "status 302, expected 2xx")
    assert expect.check_status(200, (301, 302)) == ("http_status", "status 200, expected 301, 302")


def test_decode_text_tolerates_bad_charsets() -> None:
    assert expect.decode_text("é".encode("latin-1"), "latin-1") == "é"
    assert expect.decode_text(b"ok\xff", "no-such-charset") == "ok\ufffd"
    for not_text in ("base64", "zlib", "rot13", "hex", "idna", "punycode", "uu"):
        assert expect.decode_text("café\xff".encode(), not_text) == "café\xff", not_text


def test_deeply_nested_json_is_a_mismatch_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert expect.check_body(body, None, HttpExpect(json={"a": 1})) == (
        "body_mismatch", "body is not valid JSON",
    )


def test_not_after_timestamp_reads_trustme_certificates() -> None:
    ca = trustme.CA()
    when = dt.datetime(2031, 5, 17, 8, 30, 15, tzinfo=dt.UTC)
    for not_after in (when, dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)):
        leaf = ca.issue_cert("a.test", not_after=not_after)
        der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
        assert not_after_timestamp(der) == not_after.timestamp()
    assert not_after_timestamp(b"") is None
    assert not_after_timestamp(b"\x30\x82\xff\xff") is None


def test_endpoint() -> None:
    assert req.endpoint(URL("http://127.0.0.1:8080/a?b=c")) == req.Endpoint(
        False, "127.0.0.1", 8080, b"127.0.0.1:8080", b"/a?b=c"
    )
    assert req.endpoint(URL("HTTPS://Bücher.example")) == req.Endpoint(
        True, "xn--bcher-kva.example", 443, b"xn--bcher-kva.example", b"/"
    )
    assert req.endpoint(URL("http://[::1]:81/")).authority == b"[::1]:81"
    for bad in ("ftp://h.test/", "/relative"):
        with pytest.raises(ValueError, match=r"not an HTTP URL|without a host"):
            req.endpoint(URL(bad))


def _request(method: str, url: str, *args: Any) -> bytes:
    parsed = URL(url)
    return req.build_request(method, parsed, req.endpoint(parsed), *args)


def test_build_request_defaults() -> None:
    assert _request("GET", "http://h.test/p?q=1", (), None) == (
        b"GET /p?q=1 HTTP/1.1\r\nHost: h.test\r\nUser-Agent: omniwatch-probe/0.1\r\n"
        b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n"
    )


def test_build_request_configured_headers_win_but_framing_is_the_probes() -> None:
    headers = (
        ("user-agent", "custom/1"),
        ("Host", "vhost.test"),
        ("Content-Length", "999"),
        ("Connection", "keep-alive"),
        ("X-Id", "é"),
    )
    assert _request("POST", "http://h.test:8080/", headers, b"{}") == (
        b"POST / HTTP/1.1\r\nuser-agent: custom/1\r\nHost: vhost.test\r\nX-Id: \xc3\xa9\r\n"
        b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}"
    )


def test_build_request_credentials_cookies_and_empty_post() -> None:
    raw = _request("POST", "http://user:pa%20ss@h.test/", (("Cookie", "a=1"),), None, "b=2")
    assert b"Authorization: Basic dXNlcjpwYSBzcw==\r\n" in raw  # user:pa ss
    assert b"Cookie: a=1; b=2\r\n" in raw
    assert raw.count(b"Cookie") == 1
    assert b"Content-Length: 0\r\n" in raw
    assert b"Content-Length" not in _request("GET", "http://h.test/", (), None)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET /x HTTP/1.1\r\nX:", ()),
        ("GET", (("X-A", "1\r\nX-B: 2"),)),
        ("GET", (("X-A", "1\nX-B: 2"),)),
        ("GET", (("Bad Name", "1"),)),
        ("GET", (("X-A", "a\0b"),)),
    ],
)
def test_build_request_refuses_what_would_smuggle(
    method: str, headers: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(ValueError, match="invalid"):
        _request(method, "http://h.test/", headers, None)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (b"/c", "http://h.test:81/c"),
        (b"d?e=1", "http://h.test:81/a/d?e=1"),
        (b"../x#frag", "http://h.test:81/x"),
        (b"//other.test/x", "http://other.test/x"),
        (b"https://z.test/ok", "https://z.test/ok"),
        (b"  /trimmed ", "http://h.test:81/trimmed"),
    ],
)
def test_redirect_url_resolves_against_the_current_url(location: bytes, expected: str) -> None:
    assert str(req.redirect_url(URL("http://h.test:81/a/b?x=1"), location)) == expected


def test_redirect_url_refuses_what_cannot_be_followed() -> None:
    current = URL("http://h.test/")
    for non_http in (b"ftp://h.test/f", b"mailto:a@h.test", b"javascript:alert(1)"):
        with pytest.raises(req.NonHttpRedirect):
            req.redirect_url(current, non_http)
    for invalid in (b"", b"http://[bad/", b"http://h.test:99999/"):
        with pytest.raises(req.BadLocation):
            req.redirect_url(current, invalid)


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (303, "POST", ("GET", False)),
        (303, "PUT", ("GET", False)),
        (303, "HEAD", ("HEAD", True)),
        (302, "POST", ("GET", False)),
        (301, "POST", ("GET", False)),
        (302, "PUT", ("PUT", True)),
        (307, "POST", ("POST", True)),
        (308, "POST", ("POST", True)),
        (301, "GET", ("GET", True)),
    ],
)
def test_redirect_method(status: int, method: str, expected: tuple[str, bool]) -> None:
    assert req.redirect_method(status, method) == expected


def test_origins_and_cross_origin_headers() -> None:
    assert req.same_origin(URL("http://h.test/a"), URL("http://h.test:80/b?c"))
    assert not req.same_origin(URL("http://h.test/"), URL("https://h.test/"))
    assert not req.same_origin(URL("http://h.test/"), URL("http://h.test:8080/"))
    headers = (("authorization", "x"), ("Cookie", "y"), ("HOST", "v"), ("X-A", "1"))
    assert req.cross_origin_headers(headers) == (("X-A", "1"),)


def test_header_and_charset() -> None:
    headers = [(b"content-type", b'text/html; Charset="ISO-8859-1"'), (b"x", b"1"), (b"x", b"2")]
    assert req.header(headers, b"x") == b"1"
    assert req.header(headers, b"absent") is None
    assert req.charset_of(req.header(headers, b"content-type")) == "ISO-8859-1"
    assert req.charset_of(b"application/json") is None
    assert req.charset_of(None) is None


def test_cookie_jar_across_hops() -> None:
    jar: req.CookieJar = {}
    origin = URL("https://a.bank.test/login/start")
    req.store_cookies(jar, origin, [
        b"sid=1; Path=/; Secure; HttpOnly",
        b"step=2",  # default path: /login
        b"wide=3; Domain=.bank.test; Path=/",
        b"foreign=4; Domain=evil.test",
        b"gone=5; Max-Age=0",
        b"novalue",
    ], now=1_000.0)
    assert req.cookie_header(jar, URL("https://a.bank.test/login/next")) == "step=2; sid=1; wide=3"
    assert req.cookie_header(jar, URL("http://a.bank.test/")) == "wide=3"  # not the Secure one
    assert req.cookie_header(jar, URL("https://b.bank.test/")) == "wide=3"
    assert req.cookie_header(jar, URL("https://other.test/")) is None
    req.store_cookies(jar, origin, [b"sid=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], 1e9)
    assert req.cookie_header(jar, URL("https://a.bank.test/")) == "wide=3"


def test_hostile_cookie_dates_and_ages_never_raise() -> None:
    jar: req.CookieJar = {}
    origin = URL("https://a.bank.test/")
    req.store_cookies(jar, origin, [
        b"far=1; Expires=Wed, 01 Jan 99999 00:00:00 GMT",  # no calendar: no expiry
        b"junk=2; Expires=not a date",
        b"tz=3; Expires=Wed, 01 Jan 2020 00:00:00 +99999999999999999999999",  # long past
        b"huge=4; Max-Age=" + b"9" * 5000,  # past int()'s digit limit
        b"sup=5; Max-Age=\xc2\xb2",  # "2" as a superscript: a digit, not an int
        b"neg=6; Max-Age=--5",  # not a number: ignored
        b"zeros=7; Max-Age=000",
        b"minus=8; Max-Age=-0",
    ], now=1e9)
    assert req.cookie_header(jar, origin) == "far=1; junk=2; huge=4; sup=5; neg=6"


def test_classify_messages() -> None:
    v4 = req.endpoint(URL("http://127.0.0.1:8080/"))
    v6 = req.endpoint(URL("http://[::1]:8080/"))
    name = req.endpoint(URL("https://h.test/"))
    cert_error = ssl.SSLCertVerificationError(1, "verify failed")
    cert_error.verify_message = "certificate has expired"
    cases = [
        (socket.gaierror(-2, "Name or service not known"), "dns", name,
         ("dns", "cannot resolve h.test")),
        (ConnectionRefusedError(111, "Connection refused"), "connect", v6,
         ("connect_refused", "connection to [::1]:8080 refused")),
        (OSError(113, "No route to host"), "connect", v4,
         ("connect_error", "cannot connect to 127.0.0.1:8080: No route to host")),
        (ConnectionResetError(104, "Connection reset by peer"), "response", v4,
         ("connect_error", "connection to 127.0.0.1:8080 failed: Connection reset by peer")),
        (ConnectionResetError(104, "Connection reset by peer"), "tls", name,
         ("tls", "TLS with h.test:443 failed: Connection reset by peer")),
        (cert_error, "tls", name,
         ("tls", "certificate of h.test:443 rejected: certificate has expired")),
        (ProtocolError(BAD_BODY), "body", v4,
         ("protocol", "malformed or truncated body from 127.0.0.1:8080")),
    ]
    for exc, stage, hop, expected in cases:
        assert classify(exc, stage, hop) == expected


def test_shown_json_values_are_capped_and_containers_hidden() -> None:
    from probes._http_expect import MAX_SHOWN_VALUE_CHARS, shown_json

    assert shown_json("DOWN") == '"DOWN"'
    assert shown_json(None) == "null"
    long = shown_json("x" * 500)
    assert len(long) == MAX_SHOWN_VALUE_CHARS
    assert long.endswith("…")
    assert shown_json({"name": "Zhang San", "phone": "13800138000"}) == "an object (2 keys)"
    assert shown_json(["13800138000"]) == "an array (1 items)"
