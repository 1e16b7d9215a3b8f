"""Helpers for the in-process alerting tests: polling on the loop, a target to flip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from tests.servers import http_server

T = TypeVar("T")


async def until(pred: Callable[[], T], within_seconds: float = 30.0) -> T:
    """Poll ``pred`` on the loop until it is truthy; fail after ``within_seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        value = pred()
        if value:
            return value
        assert loop.time() < deadline, f"condition not met within {within_seconds}s"
        await asyncio.sleep(0.1)


@dataclass
class Switch:
    """A health endpoint at ``url``: 200 while ``up``, 503 otherwise."""

    url: str = ""
    up: bool = False


@asynccontextmanager
async def switchable_target() -> AsyncIterator[Switch]:
    """A real HTTP server on 127.0.0.1 whose ``/health`` a test turns up and down."""
    switch = Switch()

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=200 if switch.up else 503, text="ok" if switch.up else "no")

    app = web.Application()
    app.router.add_get("/health", health)
    async with http_server(app) as base:
        switch.url = f"{base}/health"
        yield switch
