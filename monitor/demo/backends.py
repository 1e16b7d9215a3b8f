"""Simulated channel backends, on loopback only.

They behave like the days an on-call engineer meets: the app answers and lets a test
customer log in and read a balance, the website is flaky (a load-balancer member that
answers 502 now and then), the mini-program is slow (every other answer over its latency
objective), and the branch's core system has an outage window soon after the start,
while its gateway goes into a patching window a little later.  (One outage, not a
recurring one: the branch closes for the day within 90 s, see :mod:`.config`.)
Every timing counts from :func:`start_backends`, so a demo shows the same story each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import count

from aiohttp import web

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """When and how the backends misbehave (seconds from their start)."""

    flaky_every: int = 4  # every Nth website answer is a 502, the first one second
    slow_every: int = 2  # every Nth mini-program answer takes slow_seconds
    slow_seconds: float = 0.6
    outage_from_seconds: float = 5.0
    outage_seconds: float = 14.0
    gateway_patch_from_seconds: float = 35.0
    gateway_patch_seconds: float = 120.0

    def in_outage(self, elapsed: float) -> bool:
        start = self.outage_from_seconds
        return start <= elapsed < start + self.outage_seconds

    def gateway_patching(self, elapsed: float) -> bool:
        start = self.gateway_patch_from_seconds
        return start <= elapsed < start + self.gateway_patch_seconds


@dataclass(frozen=True, slots=True)
class SyntheticAccount:
    """The synthetic customer the app journey logs in as (never a real one)."""

    user: str = "demo-test-customer"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    account: str = "6222-DEMO-0001"


@dataclass(slots=True)
class Backends:
    """The running backends: a port per name (``app``, ``website``, ``mini``,
    ``branch``, ``gateway``) and what :meth:`close` stops."""

    ports: dict[str, int]
    started: float  # time.monotonic() when they started
    started_at: float  # and the wall clock then (Unix seconds)
    _runners: list[web.AppRunner]
    _gateway: asyncio.Server

    async def close(self) -> None:
        for r in self._runners:
            await r.cleanup()
        self._gateway.close()
        await self._gateway.wait_closed()


def _app_backend(account: SyntheticAccount) -> web.Application:
    # Tokens of recent logins; a bounded deque, so a long demo holds a few hundred at most.
    tokens: deque[str] = deque(maxlen=256)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "UP", "version": "7.3.1"})

    async def login(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"code": "2", "msg": "bad request"}, status=400)
        if not isinstance(body, dict) or body.get("user") != account.user \
                or body.get("password") != account.password:
            return web.json_response({"code": "1", "msg": "wrong user or password"}, status=401)
        token = secrets.token_urlsafe(16)
        tokens.append(token)
        return web.json_response({"code": "0", "data": {"token": token}})

    def authorised(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in tokens

    async def balance(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"code": "1", "msg": "not logged in"}, status=401)
        if request.match_info["account"] != account.account:
            return web.json_response({"code": "3", "msg": "no such account"}, status=404)
        return web.json_response({"balance": "1024.50", "currency": "CNY"})

    async def logout(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        with contextlib.suppress(ValueError):
            tokens.remove(header[7:])
        return web.json_response({"code": "0"})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/accounts/{account}/balance", balance)
    app.router.add_post("/api/logout", logout)
    return app


def _website_backend(behaviour: Behaviour) -> web.Application:
    hits = count()

    async def home(request: web.Request) -> web.Response:
        if next(hits) % behaviour.flaky_every == 1:
            return web.Response(status=502, text="Bad Gateway")
        return web.Response(text="<h1>Welcome to Demo Bank</h1>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    return app


def _mini_backend(behaviour: Behaviour) -> web.Application:
    hits = count()

    async def ping(request: web.Request) -> web.Response:
        slow = next(hits) % behaviour.slow_every == behaviour.slow_every - 1
        await asyncio.sleep(behaviour.slow_seconds if slow else 0.02)
        return web.json_response({"pong": True})

    app = web.Application()
    app.router.add_get("/api/ping", ping)
    return app


def _branch_backend(behaviour: Behaviour, elapsed: Callable[[], float]) -> web.Application:
    async def core(request: web.Request) -> web.Response:
        if behaviour.in_outage(elapsed()):
            return web.Response(status=503, text="core banking restarting")
        return web.json_response({"status": "UP"})

    async def teller(request: web.Request) -> web.Response:
        return web.json_response({"status": "UP", "counters_open": 4})

    app = web.Application()
    app.router.add_get("/health", core)
    app.router.add_get("/teller/health", teller)
    return app


def _gateway(behaviour: Behaviour, elapsed: Callable[[], float]) -> Callable[
        [asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The branch gateway's line protocol: ``PING`` answered ``PONG``, or ``MAINT``
        while it is being patched."""
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            line = await reader.readline()
            if line.strip() == b"PING":
                writer.write(b"MAINT\r\n" if behaviour.gateway_patching(elapsed()) else b"PONG\r\n")
                await writer.drain()
        writer.close()

    return serve


async def start_backends(behaviour: Behaviour, account: SyntheticAccount) -> Backends:
    """Start every backend on 127.0.0.1, each on a free port."""
    started, started_at = time.monotonic(), time.time()

    def elapsed() -> float:
        return time.monotonic() - started

    apps = {"app": _app_backend(account), "website": _website_backend(behaviour),
            "mini": _mini_backend(behaviour), "branch": _branch_backend(behaviour, elapsed)}
    runners, ports = [], {}
    try:
        for name, app in apps.items():
            runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                   shutdown_timeout=0.5)
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, LOCALHOST, 0).start()
            ports[name] = runner.addresses[0][1]
        gateway = await asyncio.start_server(_gateway(behaviour, elapsed), LOCALHOST, 0)
    except BaseException:
        for r in runners:
            await r.cleanup()
        raise
    ports["gateway"] = gateway.sockets[0].getsockname()[1]
    return Backends(ports, started, started_at, runners, gateway)
