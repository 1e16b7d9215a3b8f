"""The client of one journey run: a cookie jar and keep-alive connections per origin.

A customer's app keeps its cookies and its connections from one screen to the next, so
a journey does too: every response's ``Set-Cookie`` goes into :attr:`JourneyClient.jar`
and is sent on later matching requests, and a connection whose response was read to
the end (and that neither side asked to close) carries the next request to the same
origin.  Each run starts with an empty jar and no connection, and :meth:`close` ends
them all: nothing is shared between runs or journeys.

A reused connection may have been closed by the server while idle (its keep-alive
timeout) just as the request goes out.  When such a connection fails before any byte
of a response arrived, the request is sent once more on a fresh connection, as
browsers do; a fresh connection's failure is the step's.  A reused connection costs no
DNS, TCP or TLS: those phases stay 0 for the step.

A connection is reused only by a step with the same TLS context: one opened without
verification (``insecure_skip_verify``), or trusting another CA, or showing another
client certificate, must not carry a later step that verifies, or the verification
would be skipped.  Contexts come from :class:`probes.context.SslContextCache`, one per TLS
config, so the context itself (held by the key, so its identity cannot be reused) is
the TLS config's stand-in.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from probes import _http_request as req
from probes._http_client import Exchange, Timeline
from probes._http_errors import ProtocolError

# Connections are pooled per (tls, host, port, TLS server name, TLS context).
_PoolKey = tuple[bool, str, int, str, ssl.SSLContext | None]


def _key(at: req.Endpoint, ssl_context: ssl.SSLContext | None, server_name: str) -> _PoolKey:
    # Plain http has no TLS context to tell apart, whatever the step configured.
    return (at.tls, at.host, at.port, server_name, ssl_context if at.tls else None)


@dataclass(slots=True)
class _Idle:
    transport: asyncio.Transport
    cert_der: bytes | None


class JourneyClient:
    """The jar and the idle connections of one journey run (see the module doc)."""

    __slots__ = ("_idle", "_loop", "jar")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.jar: req.CookieJar = {}
        self._idle: dict[_PoolKey, _Idle] = {}

    async def exchange(
        self,
        at: req.Endpoint,
        ssl_context: ssl.SSLContext | None,
        server_name: str,
        request: bytes,
        timeline: Timeline,
        *,
        head: bool,
        max_body_bytes: int,
    ) -> Exchange:
        """Send ``request`` and wait for the response head, on an idle or a new connection.

        The returned exchange belongs to the caller, who ends it with :meth:`release`
        (a completely read response) or ``finish(clean=False)``.  On any exception the
        connection is already closed.
        """
        idle = self._idle.pop(_key(at, ssl_context, server_name), None)
        if idle is not None:
            if not idle.transport.is_closing():
                exchange = Exchange(self._loop, head=head, max_body_bytes=max_body_bytes)
                exchange.adopt(idle.transport)
                timeline.hop = at
                timeline.server_name = server_name
                timeline.cert_der = idle.cert_der
                timeline.restart("response")
                try:
                    exchange.send(request)
                    await exchange.read_head()
                    return exchange
                except (OSError, ProtocolError):
                    exchange.finish(clean=False)
                    if not exchange.received_nothing:
                        raise
                except BaseException:
                    exchange.finish(clean=False)
                    raise
            else:
                idle.transport.abort()
        exchange = Exchange(self._loop, head=head, max_body_bytes=max_body_bytes)
        try:
            await exchange.open(at, ssl_context, server_name, timeline)
            exchange.send(request)
            await exchange.read_head()
        except BaseException:
            exchange.finish(clean=False)
            raise
        return exchange

    def release(self, at: req.Endpoint, ssl_context: ssl.SSLContext | None,
                server_name: str, exchange: Exchange, cert_der: bytes | None) -> None:
        """End ``exchange``, keeping its connection for the next request when HTTP allows."""
        transport = exchange.release()
        if transport is None:
            return
        key = _key(at, ssl_context, server_name)
        previous = self._idle.pop(key, None)
        if previous is not None:  # one idle connection per origin is all steps in turn need
            previous.transport.close()
        self._idle[key] = _Idle(transport, cert_der)

    def close(self) -> None:
        """Close every idle connection; the client is not used afterwards."""
        for idle in self._idle.values():
            idle.transport.close()
        self._idle.clear()
