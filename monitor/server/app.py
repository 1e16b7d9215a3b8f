"""The HTTP face of the monitor: /metrics, /healthz, /readyz, /probe, /-/reload, the
alerting API (:mod:`monitor.server.api`), and the status API and badges
(:mod:`monitor.server.api_status`), and the status page at ``/``
(:mod:`monitor.server.page`).

``/probe`` runs a *configured* target by name, blackbox_exporter-style; it never probes
an address given in the request, so the monitor cannot be used as an open proxy.  A
probe that could not run (no browser page slot in time) answers 503 with Retry-After.

The server is run with aiohttp's handler cancellation on: a client that disconnects
cancels its handler, so an abandoned ``/probe`` stops probing and frees its slot.  Work
several requests share (the ``/metrics`` rendering) is shielded from that.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from aiohttp import web

from monitor.config.model import Target
from monitor.flows import step_facts, step_requests
from monitor.metrics.exposition import CONTENT_TYPE, render_targets
from monitor.metrics.state import ProbeState
from monitor.runtime.monitor import Monitor, ProbeBusy
from monitor.server.api import add_routes
from monitor.server.api_status import STATUS_KEY, add_status_routes
from monitor.server.guards import RELOAD_MAX_BODY_BYTES, RequestErrorLog, limit_body, reject
from monitor.server.page import add_page_routes
from monitor.server.scrape import SharedRendering, respond
from probes.result import NotRun, ProbeResult

MONITOR_KEY: web.AppKey[Monitor] = web.AppKey("monitor", Monitor)
SCRAPES_KEY: web.AppKey[SharedRendering] = web.AppKey("scrapes", SharedRendering)


async def metrics(request: web.Request) -> web.StreamResponse:
    """Everything the monitor knows, in Prometheus text format (gzip if accepted).

    Scrapes that arrive while a rendering is being made share it.
    """
    rendering = await request.app[SCRAPES_KEY].get()
    return await respond(request, rendering, CONTENT_TYPE)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: configuration loaded and probes scheduled."""
    if request.app[MONITOR_KEY].started:
        return web.Response(text="ready\n")
    return web.Response(status=503, text="not ready: scheduler not started\n")


def debug_text(target: Target, result: ProbeResult, body: str) -> str:
    """``/probe?debug=true``: the result's facts as JSON, then the metrics ``body``.

    A journey's or browser check's steps are shown as the CLI shows them: outcomes,
    timings and the configured request templates, never a variable, an extracted value,
    a body or a header value.
    """
    facts: dict[str, object] = {
        "target": target.name, "channel": target.channel, "kind": target.kind,
        "success": result.success, "reason": result.reason, "degraded": result.degraded,
        "message": result.message, "duration_seconds": result.duration_seconds,
        "phases": dict(result.phases), "status_code": result.status_code,
        "cert_expiry_timestamp": result.cert_expiry_timestamp,
        "attempts": result.attempts, "details": dict(result.details),
    }
    if target.is_flow or result.steps:
        requests = step_requests(target)
        facts["steps"] = [{**step_facts(s), "request": requests.get(s.name)}
                          for s in result.steps]
        facts["measurements"] = dict(result.measurements)
    return ("Probe result:\n" + json.dumps(facts, indent=2)
            + "\n\nMetrics that would have been returned:\n" + body)


async def probe(request: web.Request) -> web.Response:
    """Run the configured target ``?target=NAME`` now and answer in exposition format."""
    mon = request.app[MONITOR_KEY]
    name = request.query.get("target", "")
    if not name:
        return web.Response(status=400, text="missing ?target=NAME (a configured target)\n")
    target = mon.target(name)
    if target is None:
        return web.Response(
            status=404,
            text=f"unknown target {name!r}: /probe only runs targets from the configuration\n")
    try:
        result = await mon.probe_now(name)
    except ProbeBusy:
        limit = mon.config.server.probe_concurrency
        return reject(request, mon.server_stats, 503, "probe_busy",
                      f"{limit} /probe requests are running already (server.probe_concurrency)"
                      "; retry later\n", headers={"Retry-After": "1"})
    except NotRun as exc:
        # Every check holding a slot ends within its own timeout: one is free by then.
        retry = max(1, math.ceil(target.timeout_seconds))
        return reject(request, mon.server_stats, 503, exc.reason,
                      f"{name}: not run: {exc.message}; the target was not probed, retry "
                      "later\n", headers={"Retry-After": str(retry)})
    assert result is not None  # the target existed a moment ago; probe_now cannot drop it
    one = ProbeState()
    one.observe(target.channel, target.name, target.kind, result)
    body = render_targets(one.targets.values())
    if request.query.get("debug") == "true":
        return web.Response(text=debug_text(target, result, body))
    return web.Response(text=body, headers={"Content-Type": CONTENT_TYPE})


async def reload(request: web.Request) -> web.Response:
    """Re-read the configuration file; a bad file is refused and the old config kept."""
    problems = await request.app[MONITOR_KEY].reload()
    if problems:
        return web.Response(status=400, text="reload refused:\n" + "\n".join(problems) + "\n")
    return web.Response(text="reloaded\n")


def build_app(monitor: Monitor) -> web.Application:
    """The aiohttp application serving ``monitor``."""
    app = web.Application()
    app[MONITOR_KEY] = monitor
    app[SCRAPES_KEY] = SharedRendering(monitor.metrics_body)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/probe", probe)
    add_routes(app, monitor)
    add_status_routes(app, monitor)
    snapshots = app[STATUS_KEY]

    async def status_document() -> dict[str, Any]:
        return (await snapshots.get()).document

    # The page renders the very snapshot /api/v1/status answers (one build for both).
    add_page_routes(app, status_document)
    # The limits are read at start: a reload that changes body_timeout applies on restart.
    app.router.add_post("/-/reload", limit_body(
        reload, monitor.server_stats, RELOAD_MAX_BODY_BYTES,
        monitor.config.server.body_timeout_seconds))
    return app


async def start_server(monitor: Monitor, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``monitor`` on ``host:port`` (0 picks a free port); returns the bound port.

    A connection that has not sent a complete request head within
    ``server.header_timeout`` (from connect, or from the previous response) is closed,
    so a slowloris client holds a socket for that long at most.  aiohttp enforces it
    with its keep-alive timer, which starts at connect and is not reset by bytes that
    do not complete a request.
    """
    limits = monitor.config.server
    runner = web.AppRunner(
        build_app(monitor), access_log=None, handle_signals=False,
        handler_cancellation=True,
        keepalive_timeout=limits.header_timeout_seconds,
        lingering_time=limits.body_timeout_seconds,
        logger=RequestErrorLog(logging.getLogger("omniwatch.server"), monitor.server_stats))
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return runner, bound
