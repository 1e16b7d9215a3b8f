"""Real local servers for the tcp, tls and dns probe tests: 127.0.0.1, port 0, no mocks.

Each server is an async context manager; on exit it cancels the connections it still
serves, so a test that leaves a peer hanging cannot leak a task into the next test.
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

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Served:
    """A running TCP server: its port and how many connections it holds open."""

    port: int
    open_connections: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_idle(self, within_seconds: float = 1.0) -> bool:
        """Whether every connection is closed within ``within_seconds``."""
        async with asyncio.timeout(within_seconds):
            await self.idle.wait()
        return True


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler, *, ssl_context: ssl.SSLContext | None = None,
                     port: int = 0) -> AsyncIterator[Served]:
    """Serve ``handler`` on 127.0.0.1 (TLS with ``ssl_context``)."""
    tasks: set[asyncio.Task[object]] = set()
    served = Served(port)
    served.idle.set()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        served.open_connections += 1
        served.idle.clear()
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass  # the probe aborts its connections: that is the behaviour under test
        except asyncio.CancelledError:
            pass  # teardown: asyncio 3.11 would log a cancelled connection task as an error
        finally:
            writer.transport.abort()
            served.open_connections -= 1
            if not served.open_connections:
                served.idle.set()
            tasks.discard(task)

    server = await asyncio.start_server(guarded, "127.0.0.1", port, ssl=ssl_context)
    served.port = server.sockets[0].getsockname()[1]
    try:
        yield served
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- TCP behaviours ----------------------------------------------------------------------

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


# --- TLS -----------------------------------------------------------------------------------

@dataclass
class Pki:
    """A throw-away CA, its PEM file for ``ca_file``, and server contexts it signs."""

    ca: trustme.CA
    ca_file: str

    @classmethod
    def create(cls, directory: Path) -> Pki:
        ca = trustme.CA()
        path = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        return cls(ca, str(path))

    def server_context(self, *identities: str, common_name: str = "bank.test",
                       not_before: dt.datetime | None = None,
                       not_after: dt.datetime | None = None) -> ssl.SSLContext:
        """A server context presenting a leaf for ``identities`` (default 127.0.0.1)."""
        leaf = self.ca.issue_cert(*(identities or ("127.0.0.1",)), common_name=common_name,
                                  not_before=not_before, not_after=not_after)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ctx)
        return ctx


# --- DNS -----------------------------------------------------------------------------------

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
