"""One journey step: fill its placeholders, send it on the journey's client, judge, extract.

The request and its expectations are the http probe's (:mod:`probes.http`): the same
request bytes (without ``Connection: close``), redirects, body cap and checks, except
that a failed JSON field check names the path but never the value (``show_values=False``:
a step's response is a customer's data).  Then the step's ``extract`` rules take values
into the journey's variables:

``json``    the value at a JSON path; a string as is, any other scalar as its JSON text
            (``12.5``, ``true``, ``null``), an object or array as compact JSON.
``header``  the first value of the header (any case).
``cookie``  the cookie of that name in the journey's jar after this response (the one
            that would be sent back to this URL, else any of that name).
``regex``   a group (number or name) of the first match in the decoded body.

A value that is not there fails the step with ``extract_failed``; messages name the
rule, never a value.  Exceptions (:class:`OSError`, :class:`ProtocolError`, a timeout)
are left to :mod:`probes.journey`, which classifies them as the http probe does.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

from yarl import URL

from monitor.config import jsonpath, template
from monitor.config.model import HttpSpec, JourneyStep
from probes import _http_expect as expect
from probes import _http_request as req
from probes._http_client import Exchange, Timeline, declared_too_large
from probes._http_errors import BAD_REQUEST, BAD_URL, NON_HTTP_REDIRECT, ProtocolError
from probes._journey_client import JourneyClient
from probes._journey_plan import ExtractPlan, StepPlan
from probes.result import (
    REASON_EXTRACT,
    REASON_HTTP_STATUS,
    REASON_OK,
    REASON_TOO_LARGE,
)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How a step that got a response ended; ``duration_seconds`` ends at its last byte."""

    reason: str
    message: str
    duration_seconds: float
    status_code: int


def filled_request(step: JourneyStep, values: dict[str, str]
                   ) -> tuple[str, tuple[tuple[str, str], ...], bytes | None]:
    """``(url, headers, body)`` of ``step`` with its placeholders filled.

    ``json_body`` is sent as compact JSON, ``Content-Type: application/json`` unless a
    configured header sets the type.  Raises KeyError for a variable ``values`` lacks.
    """
    spec = step.request
    url = template.fill(spec.url, values)
    headers = tuple((name, template.fill(value, values)) for name, value in spec.headers)
    body: bytes | None = None
    if step.json_body is not None:
        document = template.fill_in(step.json_body, values)
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers += (("Content-Type", "application/json"),)
    elif spec.body is not None:
        body = template.fill(spec.body, values).encode()
    return url, headers, body


async def run_step(
    client: JourneyClient,
    step: JourneyStep,
    plan: StepPlan,
    values: dict[str, str],
    ssl_context: ssl.SSLContext,
    timeline: Timeline,
    start: float,
) -> StepOutcome:
    """Run ``step`` (redirects included) and update ``values`` with what it extracts."""
    spec = step.request
    url_text, headers, body = filled_request(step, values)
    try:
        first = url = URL(url_text)
    except ValueError:
        raise ProtocolError(BAD_URL) from None
    method = spec.method.upper()
    redirects = 0
    while True:
        try:
            at = req.endpoint(url)
        except ValueError:
            raise ProtocolError(BAD_URL) from None
        same_origin = req.same_origin(first, url)
        hop_headers = headers if same_origin else req.cross_origin_headers(headers)
        try:
            request = req.build_request(method, url, at, hop_headers, body,
                                        req.cookie_header(client.jar, url), keep_alive=True)
        except ValueError:  # UnicodeEncodeError included
            raise ProtocolError(BAD_REQUEST) from None
        server_name = (spec.tls.server_name if same_origin else None) or at.host
        hop_context = ssl_context if at.tls else None
        exchange = await client.exchange(
            at, hop_context, server_name, request, timeline,
            head=method == "HEAD", max_body_bytes=spec.max_body_bytes)
        released = False
        try:
            timeline.close("first_byte", "body")
            set_cookies = [v for k, v in exchange.headers if k == b"set-cookie"]
            if set_cookies:
                req.store_cookies(client.jar, url, set_cookies, time.time())
            status = exchange.status
            location = req.header(exchange.headers, b"location")
            if not (spec.follow_redirects and status in req.REDIRECT_STATUSES and location):
                failed = expect.check_status(status, spec.expect.status)
                if failed is not None:
                    return StepOutcome(*failed, time.perf_counter() - start, status)
                content = None if declared_too_large(exchange, spec.max_body_bytes) \
                    else await exchange.read_body()
                timeline.close("transfer", "done")
                duration = time.perf_counter() - start
                if content is None:
                    return StepOutcome(REASON_TOO_LARGE,
                                       f"body exceeds {spec.max_body_bytes} bytes",
                                       duration, status)
                client.release(at, hop_context, server_name, exchange, timeline.cert_der)
                released = True
                failed = _judge(exchange, content, step, plan, client, url, values)
                reason, message = failed or (REASON_OK, "")
                return StepOutcome(reason, message, duration, status)
            if redirects >= spec.max_redirects:
                return StepOutcome(REASON_HTTP_STATUS, f"more than {spec.max_redirects} "
                                   "redirects", time.perf_counter() - start, status)
            try:
                next_url = req.redirect_url(url, location)
            except req.NonHttpRedirect:
                raise ProtocolError(NON_HTTP_REDIRECT) from None
            except req.BadLocation:
                raise ProtocolError(BAD_URL) from None
            method, keep_body = req.redirect_method(status, method)
            body = body if keep_body else None
            url = next_url
            redirects += 1
        finally:
            if not released:
                exchange.finish(clean=False)



def _judge(
    exchange: Exchange, content: bytes, step: JourneyStep, plan: StepPlan,
    client: JourneyClient, url: URL, values: dict[str, str],
) -> expect.Failure | None:
    spec: HttpSpec = step.request
    charset = req.charset_of(req.header(exchange.headers, b"content-type"))
    failed = expect.check_body(content, charset, spec.expect, plan.validator,
                               show_values=False)
    if failed is not None:
        return failed
    document: Any = jsonpath.MISSING
    for rule in plan.extracts:
        if rule.rule.source == "json" and document is jsonpath.MISSING:
            try:
                document = json.loads(content)
            except (ValueError, RecursionError):
                return REASON_EXTRACT, f"extract {rule.rule.var}: body is not valid JSON"
        value = _extract(rule, exchange, content, charset, document, client, url)
        if value is None:
            return REASON_EXTRACT, f"extract {rule.rule.var}: {_absent(rule)}"
        values[rule.rule.var] = value
    return None


def _extract(rule: ExtractPlan, exchange: Exchange, content: bytes, charset: str | None,
             document: Any, client: JourneyClient, url: URL) -> str | None:
    source = rule.rule.source
    if source == "json":
        found = jsonpath.lookup(document, rule.path)
        if found is jsonpath.MISSING:
            return None
        return found if isinstance(found, str) else \
            json.dumps(found, separators=(",", ":"), ensure_ascii=False)
    if source == "header":
        raw = req.header(exchange.headers, rule.header_name)
        return None if raw is None else raw.decode("latin-1")
    if source == "cookie":
        return _cookie(client.jar, url, rule.rule.key)
    assert rule.pattern is not None
    match = rule.pattern.search(expect.decode_text(content, charset))
    if match is None:
        return None
    try:
        group: str | None = match.group(rule.rule.group)
    except IndexError:  # no such group: the config checks refuse it
        return None
    return group


def _cookie(jar: req.CookieJar, url: URL, name: str) -> str | None:
    sent = req.cookie_header(jar, url)
    for pair in (sent or "").split("; "):
        key, eq, value = pair.partition("=")
        if eq and key == name:
            return value
    for (_, _, key), (value, _, _) in jar.items():
        if key == name:
            return value
    return None


def _absent(rule: ExtractPlan) -> str:
    source, key = rule.rule.source, rule.rule.key
    if source == "json":
        return f"{key} not in the response"
    if source == "header":
        return f"header {key} not in the response"
    if source == "cookie":
        return f"cookie {key} not in the jar"
    return f"regex {key!r} group {rule.rule.group} did not match"
