"""Simulated channel backends, on loopback only.

They behave like the four kinds of day an on-call engineer meets: the app is healthy, the
website is flaky, the mini-program is slow and the branch system has a recurring outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from itertools import count

from aiohttp import web

OUTAGE_PERIOD_SECONDS = 60.0
OUTAGE_SECONDS = 20.0


def backends() -> dict[str, web.Application]:
    """One aiohttp app per simulated HTTP backend, by name (app, web, mini, branch)."""
    started = time.monotonic()
    web_hits = count()
    mini_hits = count()

    async def app_health(request: web.Request) -> web.Response:
        return web.json_response({"status": "UP", "version": "7.3.1"})

    async def website(request: web.Request) -> web.Response:
        # Every fifth request fails: a flaky load-balancer member.
        if next(web_hits) % 5 == 4:
            return web.Response(status=502, text="Bad Gateway")
        return web.Response(text="<h1>Welcome to Demo Bank</h1>", content_type="text/html")

    async def mini(request: web.Request) -> web.Response:
        # Alternates between fast and slow: p50 fine, p95 over the latency objective.
        await asyncio.sleep(0.6 if next(mini_hits) % 3 == 0 else 0.05)
        return web.json_response({"pong": True})

    async def branch(request: web.Request) -> web.Response:
        phase = (time.monotonic() - started) % OUTAGE_PERIOD_SECONDS
        if phase >= OUTAGE_PERIOD_SECONDS - OUTAGE_SECONDS:
            return web.Response(status=503, text="core banking maintenance")
        return web.json_response({"status": "UP"})

    apps = {}
    for name, path, handler in (("app", "/health", app_health), ("web", "/", website),
                                ("mini", "/api/ping", mini), ("branch", "/health", branch)):
        a = web.Application()
        a.router.add_get(path, handler)
        apps[name] = a
    return apps


async def serve_gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The branch gateway's line protocol: ``PING`` is answered with ``PONG``."""
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        line = await reader.readline()
        if line.strip() == b"PING":
            writer.write(b"PONG\r\n")
            await writer.drain()
    writer.close()
