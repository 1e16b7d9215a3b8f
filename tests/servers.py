"""Real local servers for the probe and runtime tests: 127.0.0.1, port 0, no mocks.

* :func:`http_server` runs an ``aiohttp.web`` application (optionally over TLS).
* :func:`tcp_server` runs a bare asyncio socket server (optionally TLS) for hostile peers:
  garbage, half answers, hangs, resets; it counts the connections it accepted and holds.
  :func:`canned_server` is one that answers every request with fixed bytes, and the
  behaviours below it (:func:`echo`, :func:`hang`, :func:`reset`, ...) are handlers.
* :func:`closed_port` is a port that was bound and released, so nothing listens.
* :class:`Pki` issues ``trustme`` certificates and writes the PEM files a
  :class:`monitor.config.model.TlsClientConfig` points at.
* :func:`dns_server` answers from a :class:`DnsZone` over UDP and TCP on one port.

Every helper is an async context manager that closes what it opened (on exit it cancels
the connections it still serves), so tests run cleanly under ``-W error``: no unclosed
transports, no pending tasks leaking into the next test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import trustme
from aiohttp import web

LOCALHOST = "127.0.0.1"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- HTTP ------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def http_server(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve ``app``; yields its base URL (``http://127.0.0.1:PORT``, or ``https``)."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, LOCALHOST, 0, ssl_context=ssl_context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        scheme = "https" if ssl_context is not None else "http"
        yield f"{scheme}://{LOCALHOST}:{port}"
    finally:
        await runner.cleanup()


# --- TCP -------------------------------------------------------------------------------

@dataclass
class Served:
    """A running :func:`tcp_server`: where it listens and what it has seen."""

    port: int
    connections: int = 0  # accepted since it started
    open_connections: int = 0
    received: list[bytes] = field(default_factory=list)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{LOCALHOST}:{self.port}/"

    async def wait_idle(self, within_seconds: float = 1.0) -> bool:
        """Whether every connection is closed within ``within_seconds``."""
        async with asyncio.timeout(within_seconds):
            await self.idle.wait()
        return True


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler, *, ssl_context: ssl.SSLContext | None = None,
                     port: int = 0, graceful: bool = False) -> AsyncIterator[Served]:
    """Run ``handler`` for each connection on 127.0.0.1 (TLS with ``ssl_context``).

    When the handler returns the connection is aborted, or with ``graceful`` flushed and
    closed with a FIN, as an HTTP server closes.  Handlers that never return (a hang) are
    cancelled when the context exits.
    """
    tasks: set[asyncio.Task[object]] = set()
    served = Served(port)
    served.idle.set()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        served.connections += 1
        served.open_connections += 1
        served.idle.clear()
        cancelled = False
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the probe hung up first, as it should on a hostile peer
        except asyncio.CancelledError:
            cancelled = True  # teardown: asyncio 3.11 would log a cancelled task as an error
        finally:
            if graceful and not cancelled:
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()
            else:
                writer.transport.abort()
            served.open_connections -= 1
            if not served.open_connections:
                served.idle.set()
            tasks.discard(task)

    server = await asyncio.start_server(guarded, LOCALHOST, port, ssl=ssl_context)
    served.port = server.sockets[0].getsockname()[1]
    try:
        yield served
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def canned_server(answer: bytes) -> AsyncIterator[Served]:
    """A :func:`tcp_server` (closing gracefully) answering each request with ``answer`` verbatim.

    The head of every request it read is kept in ``received``, in order.
    """
    heads: list[bytes] = []

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await read_request_head(reader))
        writer.write(answer)
        await writer.drain()

    async with tcp_server(respond, graceful=True) as server:
        server.received = heads
        yield server


async def read_request_head(reader: asyncio.StreamReader) -> bytes:
    """Read up to the blank line that ends a request's headers."""
    return await reader.readuntil(b"\r\n\r\n")


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that was just bound and released: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
    return port


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Abort with a TCP RST (SO_LINGER 0) instead of an orderly close."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


# --- TCP behaviours --------------------------------------------------------------------

async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send back whatever arrives."""
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()


def banner(text: bytes, *, then_close: bool = False) -> Handler:
    """Greet with ``text``, then wait for the client to leave (or close at once)."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text)
        await writer.drain()
        if not then_close:
            await reader.read()
    return handler


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and say nothing until the client leaves."""
    await reader.read()


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and close straight away (a clean FIN)."""


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and reset the connection (SO_LINGER 0 makes close send RST)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Stream ``x`` bytes until the client leaves."""
    while True:
        writer.write(b"x" * 4096)
        await writer.drain()


# --- TLS -------------------------------------------------------------------------------

class Pki:
    """A throw-away CA and the certificates tests need, as files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.ca_file = str(directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server_context(
        self,
        *identities: str,
        common_name: str = "bank.test",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        expired: bool = False,
        require_client_cert: bool = False,
    ) -> ssl.SSLContext:
        """A server-side context with a leaf for ``identities`` (127.0.0.1 and localhost
        by default); ``expired`` is a leaf that ended yesterday."""
        if expired:
            now = dt.datetime.now(dt.UTC)
            not_before = now - dt.timedelta(days=30)
            not_after = now - dt.timedelta(days=1)
        leaf = self.ca.issue_cert(
            *(identities or (LOCALHOST, "localhost")),
            common_name=common_name,
            not_before=not_before,
            not_after=not_after,
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context

    def client_cert_file(self, name: str = "probe.client.test") -> str:
        """A PEM holding a client key and certificate chain signed by this CA."""
        path = self.directory / f"{name}.pem"
        self.ca.issue_cert(name).private_key_and_cert_chain_pem.write_to_path(str(path))
        return str(path)


# --- DNS -------------------------------------------------------------------------------

@dataclass
class DnsZone:
    """What the test name server knows.

    ``records`` maps (absolute name, type) to record texts; a known name without the asked
    type gets an empty NOERROR, an unknown one NXDOMAIN.  ``behaviour`` makes a name
    misbehave: ``servfail``, ``yxdomain``, ``silent`` (never replies), ``garbage`` (not
    DNS), ``wrong_id``, ``truncate`` (TC bit over UDP, full answer over TCP),
    ``hangup`` (closes a TCP connection without replying) or ``truncate_hangup`` (both).
    """

    records: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    behaviour: dict[str, str] = field(default_factory=dict)
    queries: list[tuple[str, str]] = field(default_factory=list)

    def reply(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, transport))
        mode = self.behaviour.get(name, "")
        if mode == "silent" or (transport == "tcp" and mode.endswith("hangup")):
            return None
        if mode == "garbage":
            return b"\x00\x01not dns"
        response = dns.message.make_response(query)
        if mode in ("servfail", "yxdomain"):
            response.set_rcode(dns.rcode.from_text(mode.upper()))
        elif (name, rdtype) in self.records:
            response.answer.append(dns.rrset.from_text_list(
                question.name, 60, "IN", rdtype, self.records[(name, rdtype)]))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        if mode == "wrong_id":
            response.id ^= 0x5555
        if mode.startswith("truncate") and transport == "udp":
            response.answer.clear()
            response.flags |= dns.flags.TC
        return response.to_wire()


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, zone: DnsZone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.zone.reply(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def _tcp_dns(zone: DnsZone) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                (size,) = struct.unpack("!H", await reader.readexactly(2))
                wire = await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                return
            reply = zone.reply(wire, "tcp")
            if reply is None:
                if zone.behaviour.get(zone.queries[-1][0], "").endswith("hangup"):
                    return
                continue
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    return handler


@contextlib.asynccontextmanager
async def dns_server(zone: DnsZone) -> AsyncIterator[int]:
    """Serve ``zone`` over UDP and TCP on one 127.0.0.1 port; yield the port."""
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(20):  # the UDP port's TCP twin may be taken; try another
            udp, _ = await loop.create_datagram_endpoint(lambda: _UdpServer(zone),
                                                         local_addr=("127.0.0.1", 0))
            port: int = udp.get_extra_info("sockname")[1]
            try:
                await stack.enter_async_context(tcp_server(_tcp_dns(zone), port=port))
            except OSError:
                udp.close()
                continue
            stack.callback(udp.close)
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        yield port
