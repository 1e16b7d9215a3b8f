"""One ``/metrics`` rendering shared by every scrape that arrives while it is made.

At 2,000 targets a body is a few MB; 300 concurrent scrapes each rendering their own
took the process from 104 MB to 1.75 GB.  Here scrapes arriving while a rendering is in
progress await that same rendering (so at most one is made at a time), it is gzipped at
most once however many scrapers asked for gzip, and each response is written in slices
so a slow reader buffers one slice, not a private copy of the body.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aiohttp import web

# Written per connection before waiting for the client to drain; the socket layer then
# holds at most about this much of the shared body per slow scraper.
WRITE_SLICE_BYTES = 64 * 1024
# zlib level 1: Prometheus text still shrinks about tenfold, at a fraction of level 6's CPU.
GZIP_LEVEL = 1
T = TypeVar("T")


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (``gzip;q=0`` refuses it)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip"):
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


class Rendering:
    """One finished body, and its gzip form made on first demand (in a worker thread)."""

    def __init__(self, plain: bytes) -> None:
        self.plain = plain
        self._gzipped: asyncio.Task[bytes] | None = None

    async def gzipped(self) -> bytes:
        """The body gzipped; concurrent callers share one compression."""
        if self._gzipped is None:
            self._gzipped = asyncio.create_task(
                asyncio.to_thread(gzip.compress, self.plain, GZIP_LEVEL, mtime=0))
        # shield: a scraper that goes away must not cancel what others are waiting for.
        return await asyncio.shield(self._gzipped)


class SingleFlight(Generic[T]):
    """Callers of :meth:`get` during one ``make()`` all get its result (or its error)."""

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._current: asyncio.Task[T] | None = None
        self.runs = 0  # how many times ``make`` ran (for tests and curiosity)

    @property
    def busy(self) -> bool:
        """A ``make()`` is in progress."""
        return self._current is not None

    async def get(self) -> T:
        """The result in progress, or a new one if none is."""
        task = self._current
        if task is None:
            task = asyncio.create_task(self._run())
            self._current = task
            task.add_done_callback(self._finished)
        # shield: a caller that goes away must not cancel what others are waiting for.
        return await asyncio.shield(task)

    async def _run(self) -> T:
        self.runs += 1
        return await self._make()

    def _finished(self, task: asyncio.Task[T]) -> None:
        # Once made, the next caller gets a fresh one: the result is shared, not cached.
        if self._current is task:
            self._current = None
        if not task.cancelled():
            task.exception()  # retrieved here too, so an unawaited failure is not logged


class SharedRendering(SingleFlight[Rendering]):
    """Single-flight rendering: scrapes during one ``render()`` all get its result."""

    def __init__(self, render: Callable[[], Awaitable[bytes]]) -> None:
        super().__init__(self._rendering)
        self._render = render

    async def _rendering(self) -> Rendering:
        return Rendering(await self._render())

    @property
    def renders(self) -> int:
        """How many renderings were made."""
        return self.runs


async def respond(request: web.Request, rendering: Rendering,
                  content_type: str, *,
                  prepare: Callable[[web.StreamResponse], None] | None = None
                  ) -> web.StreamResponse:
    """Write ``rendering`` to ``request``, gzipped when the client accepts it;
    ``prepare`` may add headers and cookies before the head is sent."""
    use_gzip = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    body = await rendering.gzipped() if use_gzip else rendering.plain
    resp = web.StreamResponse(headers={"Content-Type": content_type, "Vary": "Accept-Encoding"})
    if use_gzip:
        resp.headers["Content-Encoding"] = "gzip"
    if prepare is not None:
        prepare(resp)
    resp.content_length = len(body)
    await resp.prepare(request)
    view = memoryview(body)
    try:
        for start in range(0, len(body), WRITE_SLICE_BYTES):
            await resp.write(view[start:start + WRITE_SLICE_BYTES])
        await resp.write_eof()
    except ConnectionError:
        pass  # the scraper went away mid-body: aiohttp drops the connection quietly
    return resp
