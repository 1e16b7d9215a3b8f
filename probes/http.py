"""The ``http`` probe: one request (following redirects if asked) on fresh connections.

Like blackbox_exporter, every probe opens its own connections and closes them at the
end, so each probe pays (and measures) DNS, TCP and TLS the way a new client would.
``target.timeout_seconds`` is one deadline over the whole probe, body included.

Why the probe speaks HTTP/1.1 itself rather than through aiohttp: issue 2 asks for at
least 1.5x blackbox_exporter's probes per CPU-second, and blackbox_exporter spends
about 0.8 ms of CPU per probe.  Through aiohttp's ``ClientSession`` a plain-http probe
cost 450-700 µs of CPU on uvloop against a local nginx (a session, connector, trace
signals, request and response objects, all built per probe for one connection used
once), leaving too little room for the scheduler around it.  One request written to
an asyncio transport and parsed by httptools (llhttp in C, as uvicorn uses) costs
90-160 µs for the whole probe.  A probe needs little of a general client: one
request, ``Connection: close``, a capped body; :mod:`probes._http_client` is that
exchange, :mod:`probes._http_request` its pure parts (request bytes, redirects,
headers, cookies), :mod:`probes._http_errors` how failures are reported.

Phases (``ProbeResult.phases``, seconds; all five keys are always present, 0 when a
phase did not happen, and summed over every hop of a redirect chain as
blackbox_exporter does):

``dns``         name resolution (``loop.getaddrinfo``; 0 for an IP literal).
``connect``     TCP handshake, until the socket is connected.
``tls``         TLS handshake (``loop.start_tls`` on the connected socket).
``first_byte``  connection ready until the response head is parsed: writing the
                request plus the server's think time.
``transfer``    response head until the last body byte read (final response only).

``duration_seconds`` is the wall time from the start of the first hop to the last byte
read (or the failure): every phase, plus the little time between them.  Setting up the
probe (its TLS context, a JSON Schema validator) happens before the clock starts, and
judging the body after it stops, so a first probe in a fresh process is not slower than
the next, and ``duration_seconds`` stays within a fraction of a millisecond of the sum of
the phases.

Failure reasons (see :mod:`probes.result`):

``timeout``          the deadline passed; the message names the stage it was in.
``dns``              the name did not resolve.
``connect_refused``  the TCP connection was refused.
``connect_error``    any other failure to connect, or the connection was reset.
``tls``              handshake failed or the certificate was rejected (expired,
                     wrong host, unknown CA, client certificate refused).  A rejected
                     certificate's ``notAfter`` is still reported: a second,
                     unverified handshake within the deadline reads it, as the
                     ``tls`` probe does (only failing targets pay for it).
``http_status``      the final status was not expected, *including too many
                     redirects*: as with blackbox_exporter (where Go hands back the last
                     3xx response), the last 3xx becomes the status checked, so
                     ``status_code`` is that 3xx.
``too_large``        the body exceeded ``max_body_bytes``; at most that many decoded
                     bytes + 1 are read before giving up.
``body_mismatch``    a body regex or a JSON field expectation failed.
``schema_mismatch``  the body is not JSON valid against ``expect.json_schema``.
``protocol``         the peer did not speak HTTP (garbage, a close before a complete
                     response, a truncated or malformed body, a redirect to a non-HTTP
                     or invalid location).  Under TLS 1.3 a server that rejects the
                     client certificate does so after the client's handshake is done;
                     its alert lands under ``tls``, a bare close here.

Redirects (301, 302, 303, 307, 308 with a Location) are followed when
``follow_redirects``; ``max_redirects`` is the number followed (0 follows none).  303,
and 301/302 after a POST, continue as a body-less GET, as browsers and Go do.  Each hop
is a fresh connection; cookies set along the chain are sent on later hops, and
credentials (Authorization, Cookie, a configured Host, ``tls.server_name``) only go
to the configured origin.  The body cap counts decoded (gzip/deflate) bytes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

from yarl import URL

from monitor.config.model import HttpSpec, Target
from probes import _http_expect as expect
from probes import _http_request as req
from probes._http_client import Exchange, Timeline, declared_too_large
from probes._http_errors import (
    BAD_REQUEST,
    BAD_URL,
    NON_HTTP_REDIRECT,
    ProtocolError,
    classify,
    os_reason,
)
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
from probes.tls import unverified_leaf

USER_AGENT = req.USER_AGENT


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Probe ``target`` (an :class:`~monitor.config.model.HttpSpec`) once; never raises for it.

    Success means: a response arrived within the deadline, its status is expected, the
    body fits ``max_body_bytes`` and meets every body expectation.  A success slower
    than ``expect.latency_seconds`` is ``degraded``.
    """
    spec = target.spec
    if not isinstance(spec, HttpSpec):
        raise TypeError(f"http probe given a {type(spec).__name__}")
    # One-time and per-probe setup happens before the clock starts: the duration is what
    # the target cost (see the module doc), not building a TLS context or a validator.
    try:
        ssl_context = ctx.ssl_contexts.get(spec.tls)
    except OSError as exc:  # ssl.SSLError included: a missing or unreadable CA/cert file
        files = ", ".join(f"{k} {v}" for k, v in (
            ("ca_file", spec.tls.ca_file), ("cert_file", spec.tls.cert_file),
            ("key_file", spec.tls.key_file)) if v)
        return failure(REASON_TLS, f"cannot load TLS files ({files}): {os_reason(exc)}", 0.0,
                       phases=dict.fromkeys(PHASES, 0.0), started_at=time.time())
    schema = None if spec.expect.json_schema is None \
        else expect.schema_validator(spec.expect.json_schema)
    started_at = time.time()
    start = time.perf_counter()
    deadline = asyncio.get_running_loop().time() + target.timeout_seconds
    timeline = Timeline(start)
    result_of: dict[str, Any] = {}  # status and details of a response, if one arrived
    try:
        async with asyncio.timeout_at(deadline):
            return await _exchange(spec, ssl_context, schema, timeline, start, started_at,
                                   result_of)
    except TimeoutError:
        reason = REASON_TIMEOUT
        message = f"no answer within {target.timeout_seconds:g}s ({timeline.stage})"
        rejected = False
    except (OSError, ProtocolError) as exc:
        reason, message = classify(exc, timeline.stage, timeline.hop)
        rejected = isinstance(exc, ssl.SSLCertVerificationError)
    duration = time.perf_counter() - start
    expiry = _cert_expiry(timeline)
    if rejected and timeline.hop is not None:
        # The certificate that was refused is exactly the one on-call needs the date of:
        # look at it again, unverified, within what is left of the deadline.  Not timed:
        # the failed attempt's duration is already taken.
        leaf = await unverified_leaf(
            timeline.hop.host, timeline.hop.port, timeline.server_name,
            ctx.ssl_contexts.get(spec.tls, verify=False), deadline)
        if leaf is not None:
            expiry = leaf.not_after_timestamp
    return failure(
        reason,
        message,
        duration,
        phases=timeline.phases,
        started_at=started_at,
        cert_expiry_timestamp=expiry,
        **result_of,
    )


async def _exchange(
    spec: HttpSpec,
    ssl_context: ssl.SSLContext,
    schema: expect.SchemaValidator | None,
    timeline: Timeline,
    start: float,
    started_at: float,
    result_of: dict[str, Any],
) -> ProbeResult:
    loop = asyncio.get_running_loop()
    try:
        first = url = URL(spec.url)
    except ValueError:
        raise ProtocolError(BAD_URL) from None
    method = spec.method.upper()
    body = spec.body.encode() if spec.body is not None else None
    jar: req.CookieJar = {}
    redirects = 0
    while True:
        try:
            at = req.endpoint(url)
        except ValueError:
            raise ProtocolError(BAD_URL) from None
        same_origin = req.same_origin(first, url)
        headers = spec.headers if same_origin else req.cross_origin_headers(spec.headers)
        try:
            request = req.build_request(method, url, at, headers, body, req.cookie_header(jar, url))
        except ValueError:  # UnicodeEncodeError included
            raise ProtocolError(BAD_REQUEST) from None
        server_name = (spec.tls.server_name if same_origin else None) or at.host
        exchange = Exchange(loop, head=method == "HEAD", max_body_bytes=spec.max_body_bytes)
        clean = False
        try:
            await exchange.open(at, ssl_context if at.tls else None, server_name, timeline)
            exchange.send(request)
            await exchange.read_head()
            timeline.close("first_byte", "body")
            status = exchange.status
            location = req.header(exchange.headers, b"location")
            if not (spec.follow_redirects and status in req.REDIRECT_STATUSES and location):
                result = await _judge(exchange, spec, schema, url, redirects, timeline,
                                      start, started_at, result_of)
                clean = True
                return result
            if redirects >= spec.max_redirects:
                return _too_many_redirects(spec, url, status, redirects, timeline, start,
                                           started_at)
            try:
                next_url = req.redirect_url(url, location)
            except req.NonHttpRedirect:
                raise ProtocolError(NON_HTTP_REDIRECT) from None
            except req.BadLocation:
                raise ProtocolError(BAD_URL) from None
            set_cookies = [v for k, v in exchange.headers if k == b"set-cookie"]
            if set_cookies:
                req.store_cookies(jar, url, set_cookies, time.time())
            method, keep_body = req.redirect_method(status, method)
            body = body if keep_body else None
            url = next_url
            redirects += 1
        finally:
            exchange.finish(clean=clean)


async def _judge(
    exchange: Exchange,
    spec: HttpSpec,
    schema: expect.SchemaValidator | None,
    url: URL,
    redirects: int,
    timeline: Timeline,
    start: float,
    started_at: float,
    result_of: dict[str, Any],
) -> ProbeResult:
    status = exchange.status
    result_of["status_code"] = status
    if redirects:
        result_of["details"] = _redirect_details(url, redirects)
    failed = expect.check_status(status, spec.expect.status)
    duration = time.perf_counter() - start
    if failed is None:
        body = None if declared_too_large(exchange, spec.max_body_bytes) \
            else await exchange.read_body()
        timeline.close("transfer", "done")
        # The target's part ends with the last byte; judging the body is omniwatch's.
        duration = time.perf_counter() - start
        if body is None:
            failed = REASON_TOO_LARGE, f"body exceeds {spec.max_body_bytes} bytes"
        else:
            content_type = req.header(exchange.headers, b"content-type")
            failed = expect.check_body(body, req.charset_of(content_type), spec.expect,
                                       schema)
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



def _too_many_redirects(
    spec: HttpSpec, url: URL, status: int, redirects: int, timeline: Timeline,
    start: float, started_at: float,
) -> ProbeResult:
    # The last 3xx, the one not followed, is the status checked (as Go's client does).
    return failure(
        REASON_HTTP_STATUS,
        f"more than {spec.max_redirects} redirects",
        time.perf_counter() - start,
        phases=timeline.phases,
        started_at=started_at,
        cert_expiry_timestamp=_cert_expiry(timeline),
        status_code=status,
        details=_redirect_details(url, redirects),
    )


def _redirect_details(url: URL, redirects: int) -> dict[str, str]:
    # Query, fragment and user info are dropped: they can carry tokens.
    final = url.with_user(None).with_query(None).with_fragment(None)
    return {"final_url": str(final), "redirects": str(redirects)}


def _cert_expiry(timeline: Timeline) -> float | None:
    return not_after_timestamp(timeline.cert_der) if timeline.cert_der else None
