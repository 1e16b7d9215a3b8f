"""The ``http`` probe: one request (following redirects if asked) on fresh connections.

Like blackbox_exporter, every probe opens its own connections and closes them at the
end, so each probe pays (and measures) DNS, TCP and TLS the way a new client would.
``target.timeout_seconds`` is one deadline over the whole probe, body included.

Phases (``ProbeResult.phases``, seconds; all five keys are always present, 0 when a
phase did not happen, and summed over every hop of a redirect chain as
blackbox_exporter does):

``dns``         name resolution (0 for an IP literal).
``connect``     TCP handshake, until the socket is connected.
``tls``         TLS handshake, socket connected until the connection is ready.
``first_byte``  connection ready until the response headers are parsed: writing the
                request plus the server's think time.
``transfer``    response headers until the last body byte read (final response only).

Failure reasons (see :mod:`probes.result`):

``timeout``          the deadline passed; the message names the phase it was in.
``dns``              the name did not resolve.
``connect_refused``  the TCP connection was refused.
``connect_error``    any other failure to connect, or the connection was reset.
``tls``              handshake failed or the certificate was rejected (expired,
                     wrong host, unknown CA, client certificate refused).
``http_status``      the final status was not expected, *including too many
                     redirects*: as with blackbox_exporter (where Go hands back the last
                     3xx response), the last 3xx becomes the status checked, so
                     ``status_code`` is that 3xx.
``too_large``        the body exceeded ``max_body_bytes``; at most that many bytes + 1
                     are read before giving up.
``body_mismatch``    a body regex or a JSON field expectation failed.
``schema_mismatch``  the body is not JSON valid against ``expect.json_schema``.
``protocol``         the peer did not speak HTTP (garbage, a close before a complete
                     response, a truncated or malformed body, a redirect to a non-HTTP
                     or invalid location).  Under TLS 1.3 a server that rejects the
                     client certificate does so after the client's handshake is done,
                     by closing: that also lands here, not under ``tls``.

``max_redirects`` is the number of redirects followed (0 follows none); cookies set
along a redirect chain are sent on later hops, as a browser (and Go's client in
blackbox_exporter) would.  The body cap counts decoded bytes.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final

import aiohttp
from aiohttp.client_proto import ResponseHandler
from yarl import URL

from monitor.model import HttpSpec, Target
from probes import _http_expect as expect
from probes._http_errors import classify, os_reason
from probes._x509 import not_after_timestamp
from probes.context import ProbeContext
from probes.result import (
    PHASES,
    REASON_HTTP_STATUS,
    REASON_OK,
    REASON_TIMEOUT,
    REASON_TLS,
    REASON_TOO_LARGE,
    ProbeResult,
    failure,
)

USER_AGENT: Final = "omniwatch-probe/0.1"

# The probe enforces one deadline itself (asyncio.timeout); aiohttp's own timers would
# only add per-request timer handles and a second, different notion of "too slow".
_NO_CLIENT_TIMEOUT: Final = aiohttp.ClientTimeout()


class _Timeline:
    """The phase clock of one probe: each event closes the phase that led up to it."""

    __slots__ = ("cert_der", "last", "phases", "protocol", "stage")

    def __init__(self, start: float) -> None:
        self.phases: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.last = start
        self.stage = "connect"  # where a timeout struck, for the message
        self.protocol: ResponseHandler | None = None
        self.cert_der: bytes | None = None

    def restart(self, stage: str) -> None:
        self.last = time.perf_counter()
        self.stage = stage

    def close(self, phase: str, next_stage: str) -> None:
        now = time.perf_counter()
        self.phases[phase] += now - self.last
        self.last = now
        self.stage = next_stage


def _timeline(trace_ctx: SimpleNamespace) -> _Timeline:
    timeline: _Timeline = trace_ctx.trace_request_ctx
    return timeline


async def _on_connection_start(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    # Time before this point is request preparation (or a redirect hop's hand-over),
    # not a network phase.
    _timeline(ctx).restart("connect")


async def _on_dns_start(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    _timeline(ctx).restart("dns")


async def _on_dns_end(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    _timeline(ctx).close("dns", "connect")


async def _on_connection_end(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    timeline = _timeline(ctx)
    transport = timeline.protocol.transport if timeline.protocol is not None else None
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        timeline.close("connect", "response")
        return
    timeline.close("tls", "response")
    # Taken now because the connection is closed (and gone) once the body is read.
    timeline.cert_der = ssl_object.getpeercert(binary_form=True)


async def _on_response(_s: aiohttp.ClientSession, ctx: SimpleNamespace, _p: Any) -> None:
    # Both a redirect response and the final one: headers are in.
    _timeline(ctx).close("first_byte", "body")


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_on_connection_start)
    config.on_dns_resolvehost_start.append(_on_dns_start)
    config.on_dns_resolvehost_end.append(_on_dns_end)
    config.on_connection_create_end.append(_on_connection_end)
    config.on_request_redirect.append(_on_response)
    config.on_request_end.append(_on_response)
    config.freeze()
    return config


# Frozen, so immutable: per-probe state travels in ``trace_request_ctx``.  Built once
# because a TraceConfig is a dozen signal lists, and probes run thousands of times.
_TRACE_CONFIG: Final = _trace_config()


def _marking_factory(inner: Callable[[], ResponseHandler], timeline: _Timeline) -> ResponseHandler:
    protocol = inner()
    timeline.protocol = protocol
    timeline.close("connect", "tls")
    return protocol


class _ProbeConnector(aiohttp.TCPConnector):
    """A TCPConnector that marks when each socket is connected, before any TLS.

    aiohttp's connection traces span TCP *and* TLS together.  It connects the socket
    first and only then calls ``loop.create_connection(factory, sock=..., ssl=...)``,
    whose protocol factory runs before the handshake starts: wrapping that factory
    splits ``connect`` from ``tls``.  If a future aiohttp drops the private
    ``_factory`` attribute, TLS time simply stays in ``connect``.
    """

    def __init__(self, timeline: _Timeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        inner = getattr(self, "_factory", None)
        if inner is not None:
            self._factory = functools.partial(_marking_factory, inner, timeline)


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Probe ``target`` (an :class:`~monitor.model.HttpSpec`) once; never raises for it.

    Success means: a response arrived within the deadline, its status is expected, the
    body fits ``max_body_bytes`` and meets every body expectation.  A success slower
    than ``expect.latency_seconds`` is ``degraded``.
    """
    spec = target.spec
    if not isinstance(spec, HttpSpec):
        raise TypeError(f"http probe given a {type(spec).__name__}")
    started_at = time.time()
    start = time.perf_counter()
    timeline = _Timeline(start)
    try:
        ssl_context = ctx.ssl_contexts.get(spec.tls)
    except OSError as exc:  # ssl.SSLError included: a missing or unreadable CA/cert file
        return failure(REASON_TLS, f"cannot load TLS files: {os_reason(exc)}",
                       time.perf_counter() - start, phases=timeline.phases,
                       started_at=started_at)
    result_of: dict[str, Any] = {}  # status and details of a response, if one arrived
    try:
        async with asyncio.timeout(target.timeout_seconds):
            return await _exchange(spec, ssl_context, timeline, start, started_at, result_of)
    except TimeoutError:
        reason = REASON_TIMEOUT
        message = f"no answer within {target.timeout_seconds:g}s ({timeline.stage})"
    except aiohttp.TooManyRedirects as exc:
        reason = REASON_HTTP_STATUS
        message = f"more than {spec.max_redirects} redirects"
        if exc.history:  # the last 3xx is the one not followed
            last = exc.history[-1]
            result_of["status_code"] = last.status
            result_of["details"] = _redirect_details(last.url, len(exc.history) - 1)
    except (aiohttp.ClientError, OSError) as exc:
        reason, message = classify(exc, spec.url)
    return failure(
        reason,
        message,
        time.perf_counter() - start,
        phases=timeline.phases,
        started_at=started_at,
        cert_expiry_timestamp=_cert_expiry(timeline),
        **result_of,
    )


async def _exchange(
    spec: HttpSpec,
    ssl_context: ssl.SSLContext,
    timeline: _Timeline,
    start: float,
    started_at: float,
    result_of: dict[str, Any],
) -> ProbeResult:
    # force_close: no keep-alive, so nothing outlives the probe; no DNS cache, so every
    # probe resolves (and times) the name afresh.
    connector = _ProbeConnector(timeline, force_close=True, use_dns_cache=False, limit=0)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=_NO_CLIENT_TIMEOUT,
        trace_configs=[_TRACE_CONFIG],
    )
    # aiohttp silently re-sends an idempotent request once when the server closes the
    # connection; a probe must report what one attempt saw (confirm is explicit).
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    try:
        response = await session.request(
            spec.method,
            spec.url,
            headers=_headers(spec),
            data=spec.body.encode() if spec.body is not None else None,
            # aiohttp raises on reaching its max_redirects; ours is the count followed.
            allow_redirects=spec.follow_redirects,
            max_redirects=spec.max_redirects + 1,
            ssl=ssl_context,
            server_hostname=spec.tls.server_name,
            trace_request_ctx=timeline,
        )
        try:
            return await _judge(response, spec, timeline, start, started_at, result_of)
        finally:
            response.close()
    finally:
        await session.close()


async def _judge(
    response: aiohttp.ClientResponse,
    spec: HttpSpec,
    timeline: _Timeline,
    start: float,
    started_at: float,
    result_of: dict[str, Any],
) -> ProbeResult:
    result_of["status_code"] = response.status
    if response.history:
        result_of["details"] = _redirect_details(response.url, len(response.history))
    failed = expect.check_status(response.status, spec.expect.status)
    if failed is None:
        body = await _read_capped(response, spec.max_body_bytes)
        timeline.close("transfer", "done")
        if body is None:
            failed = REASON_TOO_LARGE, f"body exceeds {spec.max_body_bytes} bytes"
        else:
            failed = expect.check_body(body, response.charset, spec.expect)
    duration = time.perf_counter() - start
    cert_expiry = _cert_expiry(timeline)
    if failed is not None:
        return failure(
            failed[0],
            failed[1],
            duration,
            phases=timeline.phases,
            started_at=started_at,
            cert_expiry_timestamp=cert_expiry,
            **result_of,
        )
    threshold = spec.expect.latency_seconds
    return ProbeResult(
        success=True,
        reason=REASON_OK,
        duration_seconds=duration,
        degraded=threshold is not None and duration > threshold,
        phases=timeline.phases,
        cert_expiry_timestamp=cert_expiry,
        started_at=started_at,
        **result_of,
    )


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body, or None once it is known to exceed ``limit`` bytes.

    Reads at most ``limit + 1`` bytes, so an endless body costs no more than that.
    """
    # A declared length over the cap fails without reading, unless it describes a body
    # that is not sent (HEAD, 204, 304) or is compressed (the cap counts decoded bytes).
    declared = response.content_length
    if (
        declared is not None
        and declared > limit
        and response.method != "HEAD"
        and response.status not in (204, 304)
        and "Content-Encoding" not in response.headers
    ):
        return None
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await response.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(spec: HttpSpec) -> list[tuple[str, str]]:
    headers = list(spec.headers)
    if not any(name.lower() == "user-agent" for name, _ in headers):
        headers.append(("User-Agent", USER_AGENT))
    return headers


def _redirect_details(url: URL, redirects: int) -> dict[str, str]:
    # Query, fragment and user info are dropped: they can carry tokens.
    final = url.with_user(None).with_query(None).with_fragment(None)
    return {"final_url": str(final), "redirects": str(redirects)}


def _cert_expiry(timeline: _Timeline) -> float | None:
    return not_after_timestamp(timeline.cert_der) if timeline.cert_der else None
