"""Limits on what a client may make the server do, and how a refusal is reported.

A refused request costs one short warning line and one count in
``omniwatch_http_requests_rejected_total``; never a traceback, never the client's bytes
(a request line may carry anything, and it is the client's problem, not ours).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from monitor.metrics.server import ServerStats

log = logging.getLogger("omniwatch.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# POST /-/reload takes no body; anything bigger than this is not a reload request.
RELOAD_MAX_BODY_BYTES = 1024


def reject(request: web.Request, stats: ServerStats, status: int, reason: str,
           text: str, headers: dict[str, str] | None = None) -> web.Response:
    """Count, log in one line, and answer a request the server will not serve."""
    handler = request.match_info.route.resource.canonical if (
        request.match_info.route.resource is not None) else ""
    stats.reject(handler, status)
    log.warning("http_request_rejected", extra={
        "handler": handler, "status": status, "reason": reason, "remote": request.remote})
    return web.Response(status=status, text=text, headers=headers)


def limit_body(handler: Handler, stats: ServerStats, max_bytes: int,
               timeout: float) -> Handler:
    """``handler`` behind a body check: over ``max_bytes`` is 413, slower than ``timeout``
    seconds is 408; either way ``handler`` never runs and the connection is closed."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        refused: web.Response | None = None
        length = request.content_length
        if length is not None and length > max_bytes:
            refused = reject(request, stats, 413, "body_too_large",
                             f"request body over {max_bytes} bytes\n")
        elif request.body_exists:
            try:
                async with asyncio.timeout(timeout):
                    seen = 0
                    while chunk := await request.content.readany():
                        seen += len(chunk)
                        if seen > max_bytes:
                            refused = reject(request, stats, 413, "body_too_large",
                                             f"request body over {max_bytes} bytes\n")
                            break
            except TimeoutError:
                refused = reject(request, stats, 408, "body_timeout",
                                 f"request body not received within {timeout:g}s\n")
        if refused is not None:
            # The rest of the body is drained for at most the body timeout (aiohttp's
            # lingering close), then the connection goes: it is not reused.
            refused.force_close()
            return refused
        return await handler(request)

    return guarded


class RequestErrorLog(logging.Logger):
    """The logger aiohttp's connection handler reports to.

    A request aiohttp could not parse (oversized request line or header, bad method,
    garbage) becomes one short ``http_request_rejected`` warning and a count, instead of
    an ERROR with a full traceback.  Anything else (a bug in a handler) keeps its
    traceback and goes to ``parent``'s handlers as before.
    """

    def __init__(self, parent: logging.Logger, stats: ServerStats) -> None:
        super().__init__(parent.name)
        self.parent = parent
        self._stats = stats

    def _refused(self, args: tuple[object, ...], exc_info: Any) -> bool:
        exc = exc_info if isinstance(exc_info, BaseException) else (
            sys.exc_info()[1] if exc_info is True else None)
        if not isinstance(exc, HttpProcessingError):
            return False
        status = exc.code if isinstance(exc.code, int) and exc.code >= 400 else 400
        self._stats.reject("", status)
        log.warning("http_request_rejected", extra={
            "handler": "", "status": status, "reason": type(exc).__name__,
            "remote": str(args[0]) if args else None})
        return True

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        if not self._refused(args, exc_info):
            super().exception(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        # aiohttp reports a bad method on a connection's first request at debug level
        # (TLS or other non-HTTP traffic on the port); it is a refusal like the others.
        if not self._refused(args, kwargs.get("exc_info")):
            super().debug(msg, *args, **kwargs)
