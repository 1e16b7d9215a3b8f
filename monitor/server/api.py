"""``/api/v1/alerts`` and ``/api/v1/silences``: what the alert state machine knows, and
silences created and ended over HTTP.

Reads are open (they carry labels and annotations, never customer data or a secret).
Mutations (POST and DELETE of silences) are refused unless the server was given a token
(``server.api_token``) and the request carries it as ``Authorization: Bearer TOKEN``:
without a token configured the API is read-only, so a monitor exposed on a network
cannot be silenced by whoever reaches it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from typing import Any

from aiohttp import web

from alerts.model import Silence
from alerts.views import current_alerts, silence_dict
from monitor.config import values
from monitor.runtime.monitor import Monitor

API_MAX_BODY_BYTES = 16 * 1024
MONITOR: web.AppKey[Monitor] = web.AppKey("api_monitor", Monitor)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _store(request: web.Request) -> Any:
    store = request.app[MONITOR].store
    if store is None:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "no store: alerts and silences need one"}),
            content_type="application/json")
    return store


def _authorised(request: web.Request) -> web.Response | None:
    token = request.app[MONITOR].config.server.api_token
    if token is None:
        return _error(403, "the API is read-only: configure server.api_token to allow "
                           "silences to be created and expired over HTTP")
    got = request.headers.get("Authorization", "")
    scheme, _, given = got.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
        return _error(401, "missing or wrong bearer token")
    return None


async def _guarded(request: web.Request, fn: Any, *args: Any) -> Any:
    from monitor.store import StoreDown

    try:
        return await asyncio.to_thread(fn, *args)
    except StoreDown as exc:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": f"store unavailable: {exc.error}"}),
            content_type="application/json") from None


async def list_alerts(request: web.Request) -> web.Response:
    """Firing and pending alerts, with the silences or inhibition muting them."""
    mon = request.app[MONITOR]
    alerts = await _guarded(request, current_alerts, _store(request), mon.config.alerts,
                            time.time())
    return web.json_response({"alerts": alerts})


async def list_silences(request: web.Request) -> web.Response:
    """Active and future silences (``?all=true``: expired ones too)."""
    now = time.time()
    every = request.query.get("all") == "true"
    silences = await _guarded(request, lambda: _store(request).silences(
        now, include_expired=every))
    return web.json_response({"silences": [silence_dict(s, now) for s in silences]})


def parse_silence(doc: Any, now: float) -> Silence:
    """A silence from a POST body, checked as the CLI checks its flags (the same parsers,
    the same messages); ValueError naming the field otherwise.

    ``{"matchers": ["channel=branch"], "duration": "2h" | "ends_at": UNIX, "starts_at":
    UNIX?, "author": "...", "reason": "..."}``
    """
    from alerts.config import parse_matcher

    if not isinstance(doc, dict):
        raise ValueError("the body must be a JSON object")
    unknown = set(doc) - {"matchers", "duration", "starts_at", "ends_at", "author", "reason"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    texts = doc.get("matchers")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("matchers: a non-empty list of strings such as \"channel=branch\"")
    matchers = []
    for i, text in enumerate(texts):
        try:
            matchers.append(parse_matcher(text))
        except ValueError as exc:
            raise ValueError(f"matchers[{i}]: {exc}") from None
    start = doc.get("starts_at", now)
    if not _is_number(start):
        raise ValueError("starts_at: Unix seconds")
    if "ends_at" in doc and "duration" in doc:
        raise ValueError("duration: give duration or ends_at, not both")
    field = "ends_at" if "ends_at" in doc else "duration"
    if field == "ends_at":
        end = doc["ends_at"]
        if not _is_number(end):
            raise ValueError("ends_at: Unix seconds")
        if end <= start:
            raise ValueError("ends_at: must be after starts_at")
    else:
        end = float(start) + _duration(doc.get("duration", "1h"))
    if end <= now:
        raise ValueError(f"{field}: the silence would have ended already (before now)")
    author, reason = doc.get("author"), doc.get("reason")
    for name, v in (("author", author), ("reason", reason)):
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{name}: a non-empty string")
    assert isinstance(author, str)
    assert isinstance(reason, str)
    return Silence(id=uuid.uuid4().hex[:12], matchers=tuple(matchers),
                   starts_at=float(start), ends_at=float(end), author=author.strip()[:200],
                   reason=reason.strip()[:1000], created_at=now)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _duration(raw: Any) -> float:
    """Seconds in ``duration``, read (and refused, in the same words) as the config and
    ``silence add --for`` read a duration: ``"2h"``, or a number of seconds."""
    if not (isinstance(raw, str) or _is_number(raw)):
        raise ValueError("duration: such as \"2h\" (or seconds)")
    value = values.duration_text(raw) if isinstance(raw, str) else raw
    try:
        seconds = values.parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"duration: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"duration: {values.show(value)} must be greater than zero")
    return seconds


async def create_silence(request: web.Request) -> web.Response:
    """POST a silence (token required); answers 201 with it."""
    denied = _authorised(request)
    if denied is not None:
        return denied
    raw = bytearray()
    try:
        async with asyncio.timeout(request.app[MONITOR].config.server.body_timeout_seconds):
            while chunk := await request.content.readany():
                raw += chunk
                if len(raw) > API_MAX_BODY_BYTES:
                    return _error(413, f"body over {API_MAX_BODY_BYTES} bytes")
    except TimeoutError:
        return _error(408, "request body not received in time")
    now = time.time()
    try:
        silence = parse_silence(json.loads(raw or b"null"), now)
    except json.JSONDecodeError as exc:
        return _error(400, f"the body is not JSON: {exc.msg}")
    except RecursionError:  # 16 KiB of "[" is within the size limit
        return _error(400, "the body is not JSON: nested too deeply")
    except ValueError as exc:
        return _error(400, str(exc))
    await _guarded(request, _store(request).add_silence, silence)
    return web.json_response(silence_dict(silence, now), status=201)


async def expire_silence(request: web.Request) -> web.Response:
    """DELETE /api/v1/silences/{id} (token required): end it now."""
    denied = _authorised(request)
    if denied is not None:
        return denied
    sid = request.match_info["id"]
    ended = await _guarded(request, _store(request).expire_silence, sid, time.time())
    if not ended:
        return _error(404, f"no active or future silence {sid!r}")
    return web.json_response({"id": sid, "state": "expired"})


def add_routes(app: web.Application, monitor: Monitor) -> None:
    """Mount the alerting API on ``app``."""
    app[MONITOR] = monitor
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", create_silence)
    app.router.add_delete("/api/v1/silences/{id}", expire_silence)
