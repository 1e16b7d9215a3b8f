"""The read-only JSON API and the badges: ``/api/v1/status`` and its parts, targets,
SLOs, incidents, ``/api/v1/badges/...`` and the OpenAPI document describing them all.

Everything here reads; nothing needs the token (mutations are the silences, in
:mod:`monitor.server.api`).  Lists are wrapped in an object (``{"targets": [...]}``) so
fields can be added without breaking clients.  Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import asyncio
import math
import time
from importlib import resources
from typing import Any, Final

from aiohttp import web

from monitor.metrics.state import TargetState
from monitor.runtime.monitor import Monitor
from monitor.server import badges
from monitor.server import status_build as build
from monitor.server.api import MONITOR
from monitor.server.guards import Handler
from monitor.server.scrape import respond
from monitor.server.status import StatusService, StatusView
from monitor.server.target_detail import target_detail, target_slo, target_spec
from monitor.slo.bindings import exclusions
from monitor.slo.budget import status_dict as slo_status_dict
from monitor.slo.exclusions import in_service_hours
from monitor.store import StoreDown

STATUS_KEY: web.AppKey[StatusService] = web.AppKey("status", StatusService)
JSON: Final = "application/json"
SVG: Final = "image/svg+xml"
BADGE_CACHE: Final = "public, max-age=30"
DEFAULT_INCIDENT_SECONDS: Final = 7 * 86400.0
INCIDENT_PAGE: Final = 1000
MAX_INCIDENT_PAGE: Final = 10_000


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _store_down(exc: StoreDown) -> web.Response:
    return _error(503, f"store unavailable: {exc.error}")


async def _view(request: web.Request) -> StatusView:
    return await request.app[STATUS_KEY].get()


async def status(request: web.Request) -> web.StreamResponse:
    """The whole status snapshot (the status page's data), gzipped when accepted."""
    return await respond(request, (await _view(request)).rendering, JSON)


async def targets(request: web.Request) -> web.StreamResponse:
    """Every target's line; ``?channel=`` keeps one channel's."""
    view = await _view(request)
    doc = view.document
    channel = request.query.get("channel")
    if channel is None:
        return await respond(request, view.part("targets", lambda: {
            "targets": doc["targets"]}), JSON)
    if channel not in {c["name"] for c in doc["channels"]}:
        return _error(404, f"unknown channel {channel!r}")
    return await respond(request, view.part(f"targets/{channel}", lambda: {
        "targets": [t for t in doc["targets"] if t["channel"] == channel]}), JSON)


async def target(request: web.Request) -> web.Response:
    """One target in detail: configuration, latest result, SLO, latency, steps."""
    mon = request.app[MONITOR]
    name = request.match_info["name"]
    t = mon.target(name)
    if t is None:
        return _error(404, f"unknown target {name!r}")
    # Read, not ensured: a look at a target never creates state for it.
    st = mon.state.targets.get(name) or TargetState(t.channel, t.name, t.kind)
    now = time.time()
    ex = exclusions(mon.config)
    excluded = build.excluded_now(
        t.channel, t.name, [w for w in ex.maintenance if w.active_at(now)],
        t.channel in ex.service_hours and not in_service_hours(now, ex.service_hours[t.channel]))
    slo = None
    error: str | None = "no history store configured"
    if mon.store is not None:
        try:
            slo = await asyncio.to_thread(target_slo, mon.store, target_spec(mon.config, t),
                                          name, now)
            error = None
        except StoreDown as exc:
            error = f"store unavailable: {exc.error}"
    return web.json_response(target_detail(t, st, excluded, slo, error))


async def slo(request: web.Request) -> web.Response:
    """Every SLO as ``omniwatch slo --json`` prints it (503 while the store is down).

    From the shared snapshot: the figures ``/api/v1/status`` shows, and no store read of
    its own per request."""
    if request.app[MONITOR].store is None:
        return _error(503, "no history store configured: SLOs are computed from it")
    view = await _view(request)
    if view.slos is None:
        return _error(503, view.snapshot.store.error or "store unavailable")
    return web.Response(text=_dumps({"slos": [slo_status_dict(s) for s in view.slos]}),
                        content_type=JSON)


def _dumps(doc: Any) -> str:
    import json

    # SLO math has no NaN (None means no data); refuse one rather than emit invalid JSON.
    return json.dumps(doc, allow_nan=False)


async def consistency(request: web.Request) -> web.StreamResponse:
    """Consistency per dataset and channel against its objective."""
    view = await _view(request)
    return await respond(request, view.part("consistency",
                                            lambda: view.document["consistency"]), JSON)


async def journeys(request: web.Request) -> web.StreamResponse:
    """Journeys and browser checks with their flow-time objectives."""
    view = await _view(request)
    return await respond(request, view.part("journeys", lambda: {
        "journeys": view.document["journeys"]}), JSON)


def _seconds_query(request: web.Request, name: str) -> float | None:
    """``?NAME=`` as Unix seconds (None when absent); ValueError in the API's words."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{name}: Unix seconds, such as 1764648000")
    return value


def _limit_query(request: web.Request) -> int:
    raw = request.query.get("limit", str(INCIDENT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_INCIDENT_PAGE:
        raise ValueError(f"limit: a whole number from 1 to {MAX_INCIDENT_PAGE}")
    return int(raw)


async def incidents(request: web.Request) -> web.Response:
    """Incidents overlapping ``[since, now)`` (default the last 7 days), newest first,
    ``?limit=`` per page (``next_before`` says where the next starts: ``?before=``);
    ``?channel=`` keeps one channel's."""
    mon = request.app[MONITOR]
    now = time.time()
    try:
        given = _seconds_query(request, "since")
        before = _seconds_query(request, "before")
        limit = _limit_query(request)
    except ValueError as exc:
        return _error(400, str(exc))
    since = now - DEFAULT_INCIDENT_SECONDS if given is None else given
    channel = request.query.get("channel")
    if channel is not None and channel not in {c.name for c in mon.config.channels}:
        return _error(404, f"unknown channel {channel!r}")
    if mon.store is None:
        return _error(503, "no history store configured: incidents are kept in it")
    if since >= now:  # an empty span (the store's overlap test would match open ones)
        return web.json_response({"incidents": [], "next_before": None})
    try:
        found = await asyncio.to_thread(mon.store.incidents, since, now + 1.0, channel)
    except StoreDown as exc:
        return _store_down(exc)
    if before is not None:
        found = [i for i in found if i.start < before]
    found.sort(key=lambda i: (i.start, i.target), reverse=True)
    end = min(limit, len(found))
    # ``before=`` the last start would skip incidents sharing that start: a page takes
    # them all, even past its limit.
    while 0 < end < len(found) and found[end].start == found[end - 1].start:
        end += 1
    page, more = found[:end], end < len(found)
    return web.json_response({"incidents": [
        {"channel": i.channel, "target": i.target, "started_at": i.start,
         "ended_at": i.end, "reason": i.reason} for i in page],
        "next_before": page[-1].start if more else None})


def _svg(body: str, status: int = 200, cache: str = BADGE_CACHE) -> web.Response:
    return web.Response(text=body, status=status, content_type=SVG,
                        headers={"Cache-Control": cache})


async def uptime_badge(request: web.Request) -> web.Response:
    """``uptime WINDOW | 99.91%``: a channel's availability over 1h, 24h, 7d or 30d."""
    mon = request.app[MONITOR]
    channel, window = request.match_info["channel"], request.match_info["window"]
    c = next((c for c in mon.config.channels if c.name == channel), None)
    if c is None:
        return _svg(badges.badge("uptime", "unknown channel", badges.GREY), 404, "no-store")
    if window not in badges.UPTIME_WINDOWS:
        return _svg(badges.badge("uptime", "unknown window", badges.GREY), 404, "no-store")
    if mon.store is None:
        return _svg(badges.badge(f"uptime {window}", "no store", badges.GREY), 503, "no-store")
    try:
        counts = await asyncio.to_thread(mon.store.window_counts, "channel", [window],
                                         time.time(), None, [channel])
    except StoreDown:
        return _svg(badges.badge(f"uptime {window}", "store down", badges.GREY), 503,
                    "no-store")
    got = counts.get(channel, {}).get(window)
    ratio = None if got is None or got.total == 0 else got.good / got.total
    return _svg(badges.uptime_badge(window, ratio, c.slo.objective))


async def health_badge(request: web.Request) -> web.Response:
    """``health | up``: the overall state of the snapshot."""
    return _svg(badges.health_badge((await _view(request)).snapshot.state))


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of ``/api/v1``."""
    text = resources.files("schemas").joinpath("openapi.json").read_text("utf-8")
    return web.Response(text=text, content_type=JSON)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under ``/api/v1/`` the router's own refusals (404, 405) answer JSON too, as every
    error of the API does; elsewhere (``/metrics``, the page) nothing changes."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/v1/") or exc.content_type == JSON:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return web.json_response({"error": exc.reason}, status=exc.status, headers=headers)


def add_status_routes(app: web.Application, monitor: Monitor) -> None:
    """Mount the status API and badges on ``app``; the page finds the shared snapshot
    service at ``app[STATUS_KEY]``."""
    app[MONITOR] = monitor  # as the alerting routes do (one key, one monitor)
    app.middlewares.append(json_errors)
    app[STATUS_KEY] = StatusService(monitor)
    r = app.router
    r.add_get("/api/v1/status", status)
    r.add_get("/api/v1/targets", targets)
    r.add_get("/api/v1/targets/{name}", target)
    r.add_get("/api/v1/slo", slo)
    r.add_get("/api/v1/consistency", consistency)
    r.add_get("/api/v1/journeys", journeys)
    r.add_get("/api/v1/incidents", incidents)
    r.add_get("/api/v1/badges/{channel}/uptime/{window}.svg", uptime_badge)
    r.add_get("/api/v1/badges/health.svg", health_badge)
    r.add_get("/api/v1/openapi.json", openapi)
    # Gatus's short form of the overall badge, for README shields.
    r.add_get("/health.svg", health_badge)
