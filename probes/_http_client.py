"""One HTTP/1.1 exchange on one fresh connection: asyncio transports plus httptools.

:class:`Exchange` is the asyncio protocol of a single request: it resolves and
connects (:meth:`Exchange.open`, timing each phase on a :class:`Timeline`), sends the
request bytes, and feeds every received byte to httptools' C parser (llhttp, the
parser of Node.js).  Parser callbacks only record facts (status, headers, decoded
body) and wake the probe; they never raise, so a hostile peer ends as data in
:attr:`Exchange.error`, re-raised to the probe when it waits.

Limits a peer cannot talk its way past: at most :data:`MAX_HEADERS` header fields of
at most :data:`MAX_FIELD_BYTES` each, about :data:`MAX_HEAD_BYTES` before the head is
complete, and at most ``max_body_bytes + 1`` *decoded* body bytes, after which the
exchange stops reading (zlib's ``max_length`` keeps a compression bomb equally small).

A journey's steps reuse connections: :meth:`Exchange.release` hands back the transport
of a completely read keep-alive response instead of closing it, and the next step's
exchange takes it over with :meth:`Exchange.adopt`.  The http probe never calls either:
its path is the one-connection exchange above, unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
import zlib
from typing import Final

import httptools

from probes._http_errors import BAD_BODY, BAD_RESPONSE, CLOSED_EARLY, ProtocolError
from probes._http_request import Endpoint, Header, header
from probes.result import PHASES

# What aiohttp accepts too (its max_headers, max_field_size): generous for any real
# service, small enough that a flood costs nothing.
MAX_HEADERS: Final = 128
MAX_FIELD_BYTES: Final = 8190
MAX_HEAD_BYTES: Final = 64 * 1024

_NO_BODY_STATUSES: Final = frozenset((101, 204, 304))


class Timeline:
    """The phase clock of one probe: each event closes the phase that led up to it.

    ``stage`` names what the probe is waiting for, for a timeout's message; ``hop`` is
    the endpoint of the current connection, for an error's message (and, with
    ``server_name``, for a second look at a certificate it rejected).
    """

    __slots__ = ("cert_der", "hop", "last", "phases", "server_name", "stage")

    def __init__(self, start: float) -> None:
        self.phases: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.last = start
        self.stage = "connect"
        self.hop: Endpoint | None = None
        self.server_name = ""  # the TLS server name of the current connection
        self.cert_der: bytes | None = None

    def restart(self, stage: str) -> None:
        """Start timing afresh (a new hop): time before this is no network phase."""
        self.last = time.perf_counter()
        self.stage = stage

    def close(self, phase: str, next_stage: str) -> None:
        """Add the time since the last event to ``phase``; now wait for ``next_stage``."""
        now = time.perf_counter()
        self.phases[phase] += now - self.last
        self.last = now
        self.stage = next_stage


def _ip_family(host: str) -> int | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


class Exchange(asyncio.Protocol):
    """The protocol of one request/response on its own connection (see the module doc)."""

    __slots__ = (
        "_body",
        "_decoder",
        "_deflate",
        "_finished",
        "_head_bytes",
        "_interim",
        "_limit",
        "_loop",
        "_no_body",
        "_parser",
        "_waiter",
        "body_size",
        "done",
        "error",
        "head_done",
        "headers",
        "status",
        "too_large",
        "transport",
        "until_close",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, *, head: bool, max_body_bytes: int) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._no_body = head  # a response to HEAD has no body, whatever it declares
        self._limit = max_body_bytes
        self._head_bytes = 0
        self._interim = False
        self._finished = False
        self._body: list[bytes] = []
        self._decoder: zlib._Decompress | None = None
        self._deflate = False  # "deflate": zlib-wrapped or raw, known at the first byte
        self.transport: asyncio.Transport | None = None
        self.status = 0
        self.headers: list[Header] = []
        self.head_done = False  # the final (non-1xx) response head is parsed
        self.until_close = False  # the body is delimited by the connection's close
        self.done = False  # the response is complete, or the body is over the cap
        self.too_large = False
        self.body_size = 0  # decoded body bytes kept
        self.error: BaseException | None = None

    # --- the probe's side -----------------------------------------------------------

    async def open(
        self, at: Endpoint, ssl_context: ssl.SSLContext | None, server_name: str,
        timeline: Timeline,
    ) -> None:
        """Resolve, connect, and (for https) handshake, timing each phase.

        Addresses are tried in the resolver's order; when all fail, the first error
        (that of the preferred address) is raised, as Go's dialer does.
        """
        loop = self._loop
        timeline.hop = at
        timeline.server_name = server_name
        family = _ip_family(at.host)
        if family is not None:
            addresses = [(family, at.host)]
            timeline.restart("connect")
        else:
            timeline.restart("dns")
            infos = await loop.getaddrinfo(at.host, at.port, type=socket.SOCK_STREAM)
            timeline.close("dns", "connect")
            addresses = [(info[0], str(info[4][0])) for info in infos]
            if not addresses:
                raise socket.gaierror(socket.EAI_NONAME, "no address")
        first_error: OSError | None = None
        for family, address in addresses:
            try:
                await loop.create_connection(lambda: self, address, at.port, family=family)
                break
            except OSError as exc:
                first_error = first_error or exc
        else:
            assert first_error is not None
            raise first_error
        if ssl_context is None:
            timeline.close("connect", "response")
            return
        timeline.close("connect", "tls")
        raw = self.transport
        assert raw is not None
        if raw.is_closing():  # the peer hung up at once; uvloop refuses a closed transport
            raise ConnectionResetError(errno.ECONNRESET, "closed before the TLS handshake")
        tls = await loop.start_tls(raw, self, ssl_context, server_hostname=server_name)
        if tls is None:  # the peer closed during the handshake
            raise ConnectionResetError("closed during the TLS handshake")
        self.transport = tls
        timeline.close("tls", "response")
        ssl_object = tls.get_extra_info("ssl_object")
        if ssl_object is not None:
            # Taken now: once the body is read the connection (and its certificate) is gone.
            timeline.cert_der = ssl_object.getpeercert(binary_form=True)

    def adopt(self, transport: asyncio.Transport) -> None:
        """Carry this exchange on ``transport``, an idle connection a previous one released."""
        transport.set_protocol(self)
        self.transport = transport

    @property
    def received_nothing(self) -> bool:
        """No byte of a response arrived (a reused connection's failure is then retried)."""
        return not self.head_done and self._head_bytes == 0

    def send(self, request: bytes) -> None:
        """Write the whole request (the transport buffers what the socket cannot take).

        A peer that already hung up gets nothing: :meth:`read_head` reports the close.
        """
        transport = self.transport
        assert transport is not None
        if not transport.is_closing():
            transport.write(request)

    async def read_head(self) -> None:
        """Wait for the final response's head; raise what ended the exchange before it."""
        while not self.head_done and self.error is None:
            await self._wait()
        if not self.head_done:
            assert self.error is not None
            raise self.error

    async def read_body(self) -> bytes | None:
        """The decoded body, or None once it exceeds ``max_body_bytes``."""
        while not self.done and self.error is None:
            await self._wait()
        if not self.done:
            assert self.error is not None
            raise self.error
        if self.too_large:
            return None
        return self._body[0] if len(self._body) == 1 else b"".join(self._body)

    def finish(self, *, clean: bool) -> None:
        """Close the connection: politely after a clean exchange, at once otherwise.

        Also drops the parser, whose callbacks point back here: without that each
        probe would leave a reference cycle for the garbage collector to find.
        """
        self._finished = True
        del self._parser
        transport = self.transport
        if transport is not None:
            if clean and self.done and not self.too_large:
                transport.close()
            else:
                transport.abort()

    def release(self) -> asyncio.Transport | None:
        """Finish a completely read exchange, keeping its connection when HTTP allows.

        Returns the open transport when the response was read to its end, was not
        delimited by the close, and neither side asked to close (``Connection: close``,
        HTTP/1.0); otherwise closes as :meth:`finish` does and returns None.
        """
        transport = self.transport
        keep = (
            transport is not None
            and self.done
            and not self.too_large
            and not self.until_close
            and self.error is None
            and not transport.is_closing()
            and self._keep_alive()
        )
        if not keep:
            self.finish(clean=True)
            return None
        self._finished = True
        del self._parser
        return transport

    def _keep_alive(self) -> bool:
        # httptools' should_keep_alive() is already reset once the message completes:
        # decide from the version and the Connection header as llhttp would.
        tokens = [t.strip().lower() for t in
                  (header(self.headers, b"connection") or b"").split(b",")]
        if b"close" in tokens:
            return False
        return self._parser.get_http_version() != "1.0" or b"keep-alive" in tokens

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self.error is None and not self.done:
            self.error = error

    # --- asyncio's side -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.done or self.error is not None or self._finished:
            return
        if not self.head_done:
            if self._head_bytes > MAX_HEAD_BYTES:
                self._fail(ProtocolError(BAD_RESPONSE))
                self._wake()
                return
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:  # a bug in a callback
            self._fail(exc.__context__ or exc)
        except httptools.HttpParserUpgrade:
            pass  # 101: the head was all there is, and it is done
        except httptools.HttpParserError:
            self._fail(ProtocolError(BAD_BODY if self.head_done else BAD_RESPONSE))
        if self.done or self.error is not None or self.head_done:
            self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done and self.error is None:
            if exc is not None:
                self.error = exc
            elif self.head_done and self.until_close:
                self.done = True
            else:
                self.error = ProtocolError(BAD_BODY if self.head_done else CLOSED_EARLY)
        self._wake()

    # --- httptools' side: record, never raise ----------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer of a chunked body: not part of the head
        if len(self.headers) >= MAX_HEADERS or len(name) + len(value) > MAX_FIELD_BYTES:
            self._fail(ProtocolError(BAD_RESPONSE))
            return
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        if self.error is not None:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 100 Continue, 103 Early Hints: the real head follows
            self.headers.clear()
            return
        self.status = status
        self.head_done = True
        if self._no_body or status in _NO_BODY_STATUSES:
            self.done = True
            return
        headers = self.headers
        chunked = b"chunked" in (header(headers, b"transfer-encoding") or b"").lower()
        self.until_close = not chunked and header(headers, b"content-length") is None
        coding = (header(headers, b"content-encoding") or b"").strip().lower()
        if coding in (b"gzip", b"x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == b"deflate":
            self._deflate = True
        # Any other coding is kept as sent: only gzip and deflate were offered.

    def on_body(self, data: bytes) -> None:
        if self.done or self.error is not None:
            return
        room = self._limit + 1 - self.body_size
        if self._deflate and self._decoder is None:
            # RFC 9110's "deflate" is zlib-wrapped; some servers send it raw.
            zlib_wrapped = data[0] & 0x0F == 8
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data, room)
            except zlib.error:
                self._fail(ProtocolError(BAD_BODY))
                return
        self.body_size += len(data)
        if self.body_size > self._limit:
            self.too_large = self.done = True
            self._body.clear()
        elif data:
            self._body.append(data)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self.error is None:
            self.done = True


def declared_too_large(exchange: Exchange, limit: int) -> bool:
    """A declared length over the cap fails without reading the body.

    Not when no body follows (HEAD, 204, 304: the exchange is already done) or when
    it is compressed (the cap counts decoded bytes).
    """
    if exchange.done:
        return False
    declared = header(exchange.headers, b"content-length")
    return (
        declared is not None
        and declared.strip().isdigit()
        and int(declared) > limit
        and header(exchange.headers, b"content-encoding") is None
    )
