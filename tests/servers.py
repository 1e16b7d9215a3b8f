"""Real local servers for probe tests: all on 127.0.0.1, all on port 0.

* :func:`http_server` runs an ``aiohttp.web`` application (optionally over TLS).
* :func:`raw_server` runs a bare asyncio socket server for hostile peers: garbage,
  half answers, hangs, resets.  It counts the connections it accepted;
  :func:`canned_server` is one that answers every request with fixed bytes.
* :func:`closed_port` is a port that was bound and released, so nothing listens.
* :class:`Pki` issues ``trustme`` certificates and writes the PEM files a
  :class:`monitor.model.TlsClientConfig` points at.

Every helper is an async context manager that closes what it opened, so tests run
cleanly under ``-W error`` (no unclosed transports, no pending tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

LOCALHOST = "127.0.0.1"

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


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


@dataclass
class RawServer:
    """A running :func:`raw_server`: where it listens and what it has seen."""

    port: int
    connections: int = 0
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{LOCALHOST}:{self.port}/"


@contextlib.asynccontextmanager
async def raw_server(handler: RawHandler) -> AsyncIterator[RawServer]:
    """Run ``handler`` for each accepted connection; the writer is closed afterwards.

    Handlers that never return (a hang) are cancelled when the context exits.
    """
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[Any]] = set()
    state = RawServer(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the probe hung up first, as it should on a hostile peer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    server = await asyncio.start_server(on_connect, LOCALHOST, 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def canned_server(answer: bytes) -> AsyncIterator[RawServer]:
    """A :func:`raw_server` answering each request with ``answer`` verbatim.

    The head of every request it read is kept in ``received``, in order.
    """
    heads: list[bytes] = []

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await read_request_head(reader))
        writer.write(answer)
        await writer.drain()

    async with raw_server(respond) as server:
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
        expired: bool = False,
        require_client_cert: bool = False,
    ) -> ssl.SSLContext:
        """A server-side context with a leaf for ``identities`` (127.0.0.1 by default)."""
        not_after = None
        not_before = None
        if expired:
            now = dt.datetime.now(dt.UTC)
            not_before = now - dt.timedelta(days=30)
            not_after = now - dt.timedelta(days=1)
        leaf = self.ca.issue_cert(
            *(identities or (LOCALHOST, "localhost")),
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
