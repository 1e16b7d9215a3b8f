"""The http probe against real local servers: aiohttp apps, raw sockets and trustme TLS.

The pure helpers of its HTTP/1.1 client (request bytes, redirects, cookies, error
classification) are tested directly at the end.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.config.model import HttpExpect, HttpSpec, Target, TlsClientConfig
from probes import PROBES, http
from probes.context import ProbeContext
from probes.result import PHASES, REASONS, ProbeResult
from probes.runner import run_target
from tests.servers import (
    Pki,
    canned_server,
    closed_port,
    http_server,
    read_request_head,
    reset_connection,
    tcp_server,
)

SEEN = web.AppKey("seen", list)  # requests /echo received

JSON_DOC = {
    "status": "UP",
    "up": True,
    "count": 3,
    "data": {"items": [{"state": "ok"}, {"state": "degraded"}]},
}


def target(url: str, *, timeout: float = 5.0, confirm: int = 0, **spec: Any) -> Target:
    """A Target built directly from the model dataclasses."""
    return Target(
        name="web-health",
        channel="website",
        kind="http",
        spec=HttpSpec(url=url, **spec),
        timeout_seconds=timeout,
        confirm=confirm,
    )


async def run(t: Target, ctx: ProbeContext | None = None) -> ProbeResult:
    result = await http.probe(t, ctx or ProbeContext())
    assert result.reason in REASONS
    assert set(result.phases) == set(PHASES)
    assert all(v >= 0 for v in result.phases.values()), result.phases
    return result


# --- an application with one route per behaviour ------------------------------------


def make_app() -> web.Application:
    seen: list[dict[str, Any]] = []

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="hello world, all systems nominal")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def json_doc(_: web.Request) -> web.Response:
        return web.json_response(JSON_DOC)

    async def not_json(_: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="late")

    async def redirect(request: web.Request) -> web.Response:
        left = int(request.match_info["n"])
        if left == 0:
            return web.Response(text="arrived")
        raise web.HTTPFound(f"/redirect/{left - 1}?token=s3cr3t")

    async def loop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def go(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def to_ftp(_: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://127.0.0.1/file")

    async def to_echo(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        await request.read()
        return web.Response(status=code, headers={"Location": "/echo?hop=1"})

    async def set_cookie(_: web.Request) -> web.Response:
        response = web.Response(status=302, headers={"Location": "/echo"})
        response.set_cookie("session", "abc", path="/")
        response.set_cookie("other", "x", path="/elsewhere")
        return response

    async def echo(request: web.Request) -> web.Response:
        seen.append(
            {"method": request.method, "headers": dict(request.headers),
             "body": await request.text(), "path_qs": request.path_qs}
        )
        return web.Response(text="echoed")

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.match_info["n"]))

    async def gzipped(request: web.Request) -> web.Response:
        response = web.Response(body=b"x" * int(request.match_info["n"]))
        response.enable_compression(web.ContentCoding.gzip)
        return response

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked, no Content-Length: only the cap stops it
        await response.prepare(request)
        chunk = b"x" * 16384
        try:
            while True:
                await response.write(chunk)
        except ConnectionError:
            return response

    async def stall_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b"x" * 10)
        await asyncio.sleep(30)
        return response

    app = web.Application()
    app[SEEN] = seen
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/json", json_doc)
    app.router.add_get("/not-json", not_json)
    app.router.add_get("/slow", slow)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/to-ftp", to_ftp)
    app.router.add_route("*", "/to-echo/{code}", to_echo)
    app.router.add_get("/set-cookie", set_cookie)
    app.router.add_get("/go", go)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/sized/{n}", sized)
    app.router.add_get("/gzip/{n}", gzipped)
    app.router.add_get("/endless", endless)
    app.router.add_get("/stall-body", stall_body)
    return app


@pytest.fixture
def app() -> web.Application:
    return make_app()


@pytest.fixture
async def base(app: web.Application) -> AsyncIterator[str]:
    async with http_server(app) as url:
        yield url


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


# --- success, status, body -------------------------------------------------------------


def test_registered() -> None:
    assert PROBES["http"] is http.probe


async def test_success(base: str) -> None:
    result = await run(target(f"{base}/ok"))
    assert result.success
    assert result.reason == "ok"
    assert result.status_code == 200
    assert not result.degraded
    assert result.duration_seconds > 0
    assert result.started_at == pytest.approx(time.time(), abs=5)
    assert result.cert_expiry_timestamp is None
    assert result.phases["tls"] == 0.0
    assert result.phases["connect"] > 0
    assert result.phases["first_byte"] > 0
    assert result.details == {}


@pytest.mark.parametrize(
    ("path", "status", "success"),
    [
        ("/status/200", (), True),
        ("/status/204", (), True),
        ("/status/299", (), True),
        ("/status/404", (), False),
        ("/status/500", (), False),
        ("/status/301", (), False),
        ("/status/404", (404,), True),
        ("/status/503", (200, 503), True),
        ("/status/201", (200,), False),
        ("/status/200", (204,), False),
    ],
)
async def test_status_expectations(
    base: str, path: str, status: tuple[int, ...], success: bool
) -> None:
    result = await run(target(f"{base}{path}", expect=HttpExpect(status=status)))
    assert result.success is success
    assert result.status_code == int(path.rsplit("/", 1)[1])
    if not success:
        assert result.reason == "http_status"
        assert f"status {result.status_code}" in result.message


async def test_dns_phase_for_a_name(app: web.Application) -> None:
    async with http_server(app) as url:
        port = url.rsplit(":", 1)[1]
        # localhost may resolve to ::1 first, which nothing serves: happy eyeballs copes.
        result = await run(target(f"http://localhost:{port}/ok"))
    assert result.success, result.message
    assert result.phases["dns"] > 0


@pytest.mark.parametrize(
    ("body_expect", "reason"),
    [
        (HttpExpect(body_regex=r"all systems \w+"), "ok"),
        (HttpExpect(body_regex=r"^hello"), "ok"),
        (HttpExpect(body_regex=r"outage"), "body_mismatch"),
        (HttpExpect(body_not_regex=r"outage|error"), "ok"),
        (HttpExpect(body_not_regex=r"nominal"), "body_mismatch"),
        (HttpExpect(body_regex="hello", body_not_regex="world"), "body_mismatch"),
    ],
)
async def test_body_regex(base: str, body_expect: HttpExpect, reason: str) -> None:
    result = await run(target(f"{base}/ok", expect=body_expect))
    assert result.reason == reason
    assert result.success is (reason == "ok")
    assert "nominal" not in result.message  # the body is never echoed


@pytest.mark.parametrize(
    ("fields", "reason", "message"),
    [
        ({"status": "UP"}, "ok", ""),
        ({"status": "UP", "count": 3, "up": True, "data.items.1.state": "degraded"}, "ok", ""),
        ({"count": 3.0}, "ok", ""),
        ({"data.items.0": {"state": "ok"}}, "ok", ""),
        # The value found is shown (issue 8): scalars as JSON, containers by kind.
        ({"status": "DOWN"}, "body_mismatch", 'json field status is "UP", expected "DOWN"'),
        ({"up": 1}, "body_mismatch", "json field up is true, expected 1"),
        ({"data": "x"}, "body_mismatch", 'json field data is an object (1 keys), expected "x"'),
        ({"data.items": 2}, "body_mismatch", "json field data.items is an array (2 items), "
                                             "expected 2"),
        ({"data.items.5.state": "ok"}, "body_mismatch", "json field data.items.5.state is missing"),
        ({"nope": None}, "body_mismatch", "json field nope is missing"),
    ],
)
async def test_json_fields(base: str, fields: dict[str, Any], reason: str, message: str) -> None:
    result = await run(target(f"{base}/json", expect=HttpExpect(json=fields)))
    assert (result.reason, result.message) == (reason, message)


async def test_json_fields_on_a_non_json_body(base: str) -> None:
    result = await run(target(f"{base}/not-json", expect=HttpExpect(json={"status": "UP"})))
    assert (result.reason, result.message) == ("body_mismatch", "body is not valid JSON")


SCHEMA = {
    "type": "object",
    "required": ["status", "data"],
    "properties": {
        "status": {"enum": ["UP", "DEGRADED"]},
        "count": {"type": "integer", "minimum": 1},
        "data": {"type": "object", "properties": {"items": {"type": "array"}}},
    },
}


async def test_json_schema_pass(base: str) -> None:
    result = await run(target(f"{base}/json", expect=HttpExpect(json_schema=SCHEMA)))
    assert result.success, result.message


async def test_json_schema_fail(base: str) -> None:
    strict = {**SCHEMA, "properties": {**SCHEMA["properties"], "count": {"type": "string"}}}
    result = await run(target(f"{base}/json", expect=HttpExpect(json_schema=strict)))
    assert result.reason == "schema_mismatch"
    assert result.message == "body fails schema at $.count: type"


async def test_json_schema_on_a_non_json_body(base: str) -> None:
    result = await run(target(f"{base}/not-json", expect=HttpExpect(json_schema=SCHEMA)))
    assert (result.reason, result.message) == ("schema_mismatch", "body is not valid JSON")


async def test_degraded_when_slower_than_latency_threshold(base: str) -> None:
    slow = await run(target(f"{base}/slow", expect=HttpExpect(latency_seconds=0.1)))
    assert slow.success
    assert slow.degraded
    assert slow.result_label == "degraded"
    assert slow.duration_seconds >= 0.3
    assert slow.phases["first_byte"] >= 0.29
    fast = await run(target(f"{base}/slow", expect=HttpExpect(latency_seconds=3)))
    assert fast.success
    assert not fast.degraded


async def test_a_failure_is_never_degraded(base: str) -> None:
    slow_and_wrong = HttpExpect(status=(204,), latency_seconds=0.01)
    result = await run(target(f"{base}/slow", expect=slow_and_wrong))
    assert not result.success
    assert not result.degraded


async def test_method_headers_body_are_sent_and_secrets_not_echoed(
    base: str, app: web.Application
) -> None:
    t = target(
        f"{base}/echo",
        method="POST",
        headers=(("Authorization", "Bearer s3cr3t"), ("X-Channel", "web")),
        body='{"ping": 1}',
        expect=HttpExpect(status=(418,)),
    )
    result = await run(t)
    assert result.reason == "http_status"
    assert "s3cr3t" not in result.message
    (seen,) = app[SEEN]
    assert seen["method"] == "POST"
    assert seen["headers"]["Authorization"] == "Bearer s3cr3t"
    assert seen["headers"]["X-Channel"] == "web"
    assert seen["headers"]["User-Agent"] == http.USER_AGENT
    assert seen["body"] == '{"ping": 1}'


async def test_user_agent_can_be_overridden(base: str, app: web.Application) -> None:
    await run(target(f"{base}/echo", headers=(("user-agent", "custom/1"),)))
    assert app[SEEN][0]["headers"]["User-Agent"] == "custom/1"


# --- redirects ---------------------------------------------------------------------------


async def test_redirects_followed(base: str) -> None:
    result = await run(target(f"{base}/redirect/2"))
    assert result.success
    assert result.status_code == 200
    # The query (which may carry a token) is dropped from the reported URL.
    assert result.details == {"final_url": f"{base}/redirect/0", "redirects": "2"}


async def test_redirects_up_to_max_redirects(base: str) -> None:
    assert (await run(target(f"{base}/redirect/3", max_redirects=3))).success
    result = await run(target(f"{base}/redirect/3", max_redirects=2))
    assert (result.reason, result.status_code) == ("http_status", 302)
    assert result.message == "more than 2 redirects"


async def test_redirect_loop_is_an_http_status_failure(base: str) -> None:
    result = await run(target(f"{base}/loop", max_redirects=5))
    assert not result.success
    assert result.reason == "http_status"
    assert result.status_code == 302
    assert result.details == {"final_url": f"{base}/loop", "redirects": "5"}
    assert result.message == "more than 5 redirects"


async def test_max_redirects_zero_follows_none(base: str) -> None:
    result = await run(target(f"{base}/redirect/1", max_redirects=0))
    assert (result.reason, result.status_code) == ("http_status", 302)


async def test_redirects_off_checks_the_3xx(base: str) -> None:
    off = await run(target(f"{base}/redirect/1", follow_redirects=False))
    assert (off.reason, off.status_code) == ("http_status", 302)
    assert off.details == {}
    expected = await run(
        target(f"{base}/loop", follow_redirects=False, expect=HttpExpect(status=(302,)))
    )
    assert expected.success


async def test_redirect_to_a_dead_host_names_that_host(base: str) -> None:
    port = closed_port()
    result = await run(target(f"{base}/go?to=http://127.0.0.1:{port}/x"))
    assert result.reason == "connect_refused"
    assert result.message == f"connection to 127.0.0.1:{port} refused"


async def test_redirect_to_non_http_scheme_is_protocol(base: str) -> None:
    result = await run(target(f"{base}/to-ftp"))
    assert result.reason == "protocol"


@pytest.mark.parametrize(
    ("code", "method", "body"),
    [
        (303, "GET", ""),
        (302, "GET", ""),
        (301, "GET", ""),
        (307, "POST", "payload"),
        (308, "POST", "payload"),
    ],
)
async def test_redirect_after_post(
    base: str, app: web.Application, code: int, method: str, body: str
) -> None:
    t = target(f"{base}/to-echo/{code}", method="POST", body="payload")
    result = await run(t)
    assert result.success, result.message
    (seen,) = app[SEEN]
    assert (seen["method"], seen["body"], seen["path_qs"]) == (method, body, "/echo?hop=1")


async def test_cookies_follow_the_redirect_chain(base: str, app: web.Application) -> None:
    result = await run(target(f"{base}/set-cookie"))
    assert result.success, result.message
    assert app[SEEN][0]["headers"]["Cookie"] == "session=abc"  # not the /elsewhere one


async def test_a_redirect_with_an_unreadable_cookie_date_is_followed() -> None:
    # "Expires" in year 99999 made the cookie jar raise (mktime_tz): now it is no expiry.
    cookies: list[str | None] = []

    async def bad_date(_: web.Request) -> web.Response:
        return web.Response(status=302, headers={
            "Location": "/landing",
            "Set-Cookie": "sid=abc; Path=/; Expires=Wed, 01 Jan 99999 00:00:00 GMT"})

    async def landing(request: web.Request) -> web.Response:
        cookies.append(request.headers.get("Cookie"))
        return web.Response(text="ok")

    hostile = web.Application()
    hostile.router.add_get("/bad-date", bad_date)
    hostile.router.add_get("/landing", landing)
    async with http_server(hostile) as base:
        result = await run(target(f"{base}/bad-date"))
    assert (result.success, result.status_code) == (True, 200), result.message
    assert cookies == ["sid=abc"]


async def test_credentials_stay_with_the_configured_origin(app: web.Application) -> None:
    other = make_app()
    async with http_server(app) as first, http_server(other) as second:
        headers = (("Authorization", "Bearer s3cr3t"), ("Host", "vhost.test"), ("X-Channel", "web"))
        result = await run(target(f"{first}/go?to={second}/echo", headers=headers))
    assert result.success, result.message
    (seen,) = other[SEEN]
    assert "Authorization" not in seen["headers"]
    assert seen["headers"]["Host"] == second.removeprefix("http://")
    assert seen["headers"]["X-Channel"] == "web"


# --- body size -------------------------------------------------------------------------


async def test_body_at_the_cap_is_fine(base: str) -> None:
    assert (await run(target(f"{base}/sized/1000", max_body_bytes=1000))).success


async def test_declared_body_over_the_cap_is_too_large(base: str) -> None:
    result = await run(target(f"{base}/sized/1001", max_body_bytes=1000))
    assert (result.reason, result.status_code) == ("too_large", 200)
    assert result.message == "body exceeds 1000 bytes"


async def test_head_ignores_the_declared_length(base: str) -> None:
    result = await run(target(f"{base}/sized/5000", method="HEAD", max_body_bytes=1000))
    assert result.success, result.message


async def test_the_cap_counts_decoded_bytes(base: str) -> None:
    assert (await run(target(f"{base}/gzip/1000", max_body_bytes=1000))).success
    result = await run(target(f"{base}/gzip/1001", max_body_bytes=1000))
    assert result.reason == "too_large"


async def test_endless_body_is_too_large_quickly(base: str) -> None:
    begin = time.perf_counter()
    result = await run(target(f"{base}/endless", max_body_bytes=100_000, timeout=5))
    assert result.reason == "too_large"
    assert time.perf_counter() - begin < 1.0
    assert result.phases["transfer"] > 0


@pytest.mark.parametrize("wrapped", [True, False])
async def test_deflate_bodies_are_decoded(wrapped: bool) -> None:
    compressor = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    data = compressor.compress(b'{"status": "UP"}') + compressor.flush()
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n"
    async with canned_server(head % len(data) + data) as server:
        result = await run(target(server.url, expect=HttpExpect(json={"status": "UP"})))
    assert result.success, result.message


async def test_a_compression_bomb_costs_only_the_cap() -> None:
    data = gzip.compress(b"\0" * 50_000_000)  # about 50 kB on the wire
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
    async with canned_server(head % len(data) + data) as server:
        begin = time.process_time()
        result = await run(target(server.url, max_body_bytes=1000))
        assert time.process_time() - begin < 0.1  # inflating 50 MB would take longer
    assert (result.reason, result.message) == ("too_large", "body exceeds 1000 bytes")


async def test_corrupt_gzip_is_protocol() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnot gzip"
    async with canned_server(answer) as server:
        result = await run(target(server.url))
    assert result.reason == "protocol"
    assert result.message == f"malformed or truncated body from 127.0.0.1:{server.port}"


async def test_chunked_body_with_trailers_and_a_charset() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/plain; charset=latin-1\r\n\r\n"
        b"3\r\nall\r\n5\r\n caf\xe9\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    async with canned_server(answer) as server:
        result = await run(target(server.url, expect=HttpExpect(body_regex="^all café$")))
    assert result.success, result.message


async def test_a_body_delimited_by_the_close() -> None:
    answer = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall systems nominal"
    async with canned_server(answer) as server:
        result = await run(target(server.url, expect=HttpExpect(body_regex="nominal$")))
    assert result.success, result.message


async def test_interim_responses_are_skipped() -> None:
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    async with canned_server(answer) as server:
        result = await run(target(server.url, expect=HttpExpect(body_regex="^ok$")))
    assert (result.success, result.status_code) == (True, 200), result.message


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
    ],
)
async def test_no_body_is_awaited_where_none_follows(method: str, answer: bytes) -> None:
    async def answer_and_hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(60)  # would stall a client waiting for 50 body bytes

    expected = HttpExpect(status=(204, 304, 200))
    async with tcp_server(answer_and_hold, graceful=True) as server:
        result = await run(target(server.url, method=method, timeout=2, expect=expected))
    assert result.success, result.message
    assert result.duration_seconds < 1


# --- hostile and absent peers ---------------------------------------------------------------


async def test_dns_failure() -> None:
    result = await run(target("http://nonexistent.invalid/", timeout=5))
    assert result.reason == "dns"
    assert result.message == "cannot resolve nonexistent.invalid"
    assert result.status_code is None


async def test_connect_refused() -> None:
    result = await run(target(f"http://127.0.0.1:{closed_port()}/"))
    assert result.reason == "connect_refused"
    assert result.status_code is None


async def test_connection_reset_is_connect_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        reset_connection(writer)

    async with tcp_server(reset, graceful=True) as server:
        result = await run(target(server.url))
    assert result.reason == "connect_error"
    assert "reset" in result.message


async def test_hanging_server_times_out_on_time() -> None:
    async def hang(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async with tcp_server(hang, graceful=True) as server:
        begin = time.perf_counter()
        result = await run(target(server.url, timeout=0.5))
        elapsed = time.perf_counter() - begin
    assert result.reason == "timeout"
    assert result.message == "no answer within 0.5s (response)"
    # Margin for a loaded CI box; the probe itself stops at the deadline.
    assert 0.5 <= elapsed < 1.0
    assert 0.5 <= result.duration_seconds < 1.0


async def test_stalled_body_times_out(base: str) -> None:
    result = await run(target(f"{base}/stall-body", timeout=0.5))
    assert result.reason == "timeout"
    assert result.message == "no answer within 0.5s (body)"
    assert result.status_code == 200


async def test_garbage_instead_of_http_is_protocol() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6 \x00\xff secret-banner\r\n\r\n")
        await writer.drain()

    async with tcp_server(garbage, graceful=True) as server:
        result = await run(target(server.url))
    assert result.reason == "protocol"
    assert "secret" not in result.message


@pytest.mark.parametrize(
    "answer",
    [
        b"",  # closes without a byte
        b"HTTP/1.1 200 OK\r\nContent-Le",  # closes mid-headers
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",  # truncated body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # bad chunking
        b"HTTP/1.1 200 OK\r\nX-Flood: " + b"a" * 100_000 + b"\r\n\r\n",  # huge header
        b"HTTP/1.1 200 OK\r\n" + b"X-Many: b\r\n" * 1000 + b"\r\n",  # too many headers
    ],
)
async def test_broken_answers_are_protocol_and_not_retried(answer: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(answer)
        await writer.drain()

    async with tcp_server(broken, graceful=True) as server:
        result = await run(target(server.url))
        assert result.reason == "protocol", result.message
        assert server.connections == 1  # one connection per probe: nothing is re-sent


@pytest.mark.parametrize(
    ("scheme", "reasons"),
    [("http", ("connect_error", "protocol")), ("https", ("tls",))],
)
async def test_a_peer_that_hangs_up_at_once(scheme: str, reasons: tuple[str, ...]) -> None:
    async def hang_up(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.close()

    async with tcp_server(hang_up, graceful=True) as server:
        result = await run(target(server.url.replace("http", scheme, 1)))
    # Plain http sees a reset (the request went unread) or, if it loses the race, a
    # close before any response; a close during a handshake is always ``tls``.
    assert result.reason in reasons, result.message


async def test_every_probe_opens_a_new_connection() -> None:
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # would serve a kept-alive connection forever
            await read_request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async with tcp_server(respond, graceful=True) as server:
        ctx = ProbeContext()
        for _ in range(3):
            assert (await run(target(server.url), ctx)).success
        assert server.connections == 3


async def test_the_request_on_the_wire() -> None:
    async with canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as server:
        result = await run(target(f"{server.url}a b/ü?q=1 2&x=ä"))
    assert result.success, result.message
    (head,) = server.received
    lines = head.split(b"\r\n")
    assert lines[0] == b"GET /a%20b/%C3%BC?q=1+2&x=%C3%A4 HTTP/1.1"
    assert sorted(lines[1:-2]) == sorted([
        b"Accept: */*",
        b"Accept-Encoding: gzip, deflate",
        b"Connection: close",
        f"Host: 127.0.0.1:{server.port}".encode(),
        b"User-Agent: " + http.USER_AGENT.encode(),
    ])


async def test_a_header_that_would_smuggle_another_is_never_sent() -> None:
    async with canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as server:
        result = await run(target(server.url, headers=(("X-A", "1\r\nX-Injected: 2"),)))
        assert server.connections == 0
    assert result.reason == "protocol"
    assert "X-Injected" not in result.message


async def test_an_endless_head_is_protocol_quickly() -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Flood: ")
        while True:
            writer.write(b"a" * 16384)
            await writer.drain()

    async with tcp_server(flood, graceful=True) as server:
        begin = time.perf_counter()
        result = await run(target(server.url, timeout=5))
    assert result.reason == "protocol"
    assert time.perf_counter() - begin < 1.0


async def test_a_reset_during_the_body_is_connect_error() -> None:
    async def reset_midway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        await asyncio.sleep(0.05)
        reset_connection(writer)

    async with tcp_server(reset_midway, graceful=True) as server:
        result = await run(target(server.url))
    assert result.reason == "connect_error"
    assert "reset" in result.message


# --- TLS -----------------------------------------------------------------------------------


async def test_https_success_with_custom_ca(app: web.Application, pki: Pki) -> None:
    async with http_server(app, ssl_context=pki.server_context()) as url:
        result = await run(target(f"{url}/ok", tls=TlsClientConfig(ca_file=pki.ca_file)))
    assert result.success, result.message
    assert result.phases["tls"] > 0
    assert result.phases["connect"] > 0
    # trustme's default leaf is valid until the year 3000.
    assert result.cert_expiry_timestamp is not None
    assert result.cert_expiry_timestamp > time.time() + 300 * 86400


async def test_https_unknown_ca_is_tls(app: web.Application, pki: Pki) -> None:
    async with http_server(app, ssl_context=pki.server_context()) as url:
        result = await run(target(f"{url}/ok"))  # system CAs do not know trustme's
    assert result.reason == "tls"
    assert "certificate" in result.message


async def test_https_to_a_plain_http_server_is_tls(base: str) -> None:
    result = await run(target(base.replace("http://", "https://") + "/ok"))
    assert result.reason == "tls"


async def test_expired_certificate_is_tls(app: web.Application, pki: Pki) -> None:
    async with http_server(app, ssl_context=pki.server_context(expired=True)) as url:
        result = await run(target(f"{url}/ok", tls=TlsClientConfig(ca_file=pki.ca_file)))
    assert result.reason == "tls"
    assert "expired" in result.message


async def test_wrong_host_certificate_is_tls(app: web.Application, pki: Pki) -> None:
    ctx = pki.server_context("other.example")
    async with http_server(app, ssl_context=ctx) as url:
        result = await run(target(f"{url}/ok", tls=TlsClientConfig(ca_file=pki.ca_file)))
    assert result.reason == "tls"
    assert "127.0.0.1" in result.message


async def test_server_name_override(app: web.Application, pki: Pki) -> None:
    ctx = pki.server_context("api.internal.test")
    async with http_server(app, ssl_context=ctx) as url:
        tls = TlsClientConfig(ca_file=pki.ca_file, server_name="api.internal.test")
        result = await run(target(f"{url}/ok", tls=tls))
    assert result.success, result.message


async def test_insecure_skip_verify_still_reports_expiry(app: web.Application, pki: Pki) -> None:
    ctx = pki.server_context("other.example", expired=True)
    async with http_server(app, ssl_context=ctx) as url:
        result = await run(target(f"{url}/ok", tls=TlsClientConfig(insecure_skip_verify=True)))
    assert result.success, result.message
    assert result.cert_expiry_timestamp is not None
    assert result.cert_expiry_timestamp < time.time()


async def test_client_certificate_accepted(app: web.Application, pki: Pki) -> None:
    cert = pki.client_cert_file()
    ctx = pki.server_context(require_client_cert=True)
    async with http_server(app, ssl_context=ctx) as url:
        tls = TlsClientConfig(ca_file=pki.ca_file, cert_file=cert, key_file=cert)
        with_cert = await run(target(f"{url}/ok", tls=tls))
        without = await run(target(f"{url}/ok", tls=TlsClientConfig(ca_file=pki.ca_file)))
    assert with_cert.success, with_cert.message
    assert not without.success
    # TLS 1.3: the server refuses the certificate after our handshake completed, by
    # closing the connection, so the client sees a close rather than a TLS alert.
    assert without.reason in ("tls", "protocol"), without.message


async def test_missing_ca_file_is_tls(tmp_path: Path) -> None:
    tls = TlsClientConfig(ca_file=str(tmp_path / "absent.pem"))
    result = await run(target("https://127.0.0.1:1/", tls=tls))
    assert result.reason == "tls"
    assert result.message.startswith("cannot load TLS files")


# --- the confirm loop ------------------------------------------------------------------------


async def test_confirm_retries_a_failure(base: str) -> None:
    result = await run_target(target(f"{base}/status/500", confirm=2), ProbeContext(), http.probe)
    assert (result.reason, result.attempts) == ("http_status", 3)


async def test_confirm_stops_at_success(base: str) -> None:
    result = await run_target(target(f"{base}/ok", confirm=2), ProbeContext(), http.probe)
    assert result.success
    assert result.attempts == 1
