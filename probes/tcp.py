"""The ``tcp`` probe, and the connection primitives the ``tls`` and ``dns`` probes share.

A ``tcp`` target (:class:`~monitor.config.model.TcpSpec`) passes when, all within
``target.timeout_seconds``: the host resolves, a TCP connection opens, the TLS handshake
verifies (when ``tls`` is set), and, when ``expect_regex`` is set, the bytes read after
``send`` match it before more than ``max_read_bytes`` have arrived.  ``send`` and the bytes
matched are latin-1: each character U+0000..U+00FF is one byte, so binary frames (ISO 8583
length prefixes) can be written with YAML ``\\x`` escapes and ASCII protocols read as usual.
Over TLS, ``cert_expiry_timestamp`` is the presented leaf's ``notAfter``, read from its DER
bytes so that it is reported under ``insecure_skip_verify`` too.

Failure reasons (shared by the probes built on :func:`connect`):

- ``dns``: the host name did not resolve.
- ``connect_refused``: the port actively refused the connection.
- ``connect_error``: any other network error (unreachable, reset mid-exchange).
- ``tls``: the handshake failed (chain, host name, expiry, protocol) or TLS broke later.
- ``timeout``: the deadline passed; the message names the phase that was running.
- ``body_mismatch``: the peer closed the connection before ``expect_regex`` matched.
- ``too_large``: more than ``max_read_bytes`` arrived without a match.
- ``protocol``: ``send`` holds a character that is not one byte.

Phases: ``dns`` (only for a host name), ``connect``, ``tls``, ``first_byte`` (start of the
send, or end of the handshake, to the first byte read) and ``transfer`` (to the match).
Only the first resolved address is tried: a probe measures one path, not fallback logic.
Connections are aborted rather than shut down politely, so a peer that ignores the goodbye
cannot hold on to a probe's socket.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass

from monitor.config.model import Target, TcpSpec
from probes._x509 import not_after_timestamp
from probes.context import ProbeContext
from probes.result import (
    REASON_BODY_MISMATCH,
    REASON_CONNECT_ERROR,
    REASON_CONNECT_REFUSED,
    REASON_DNS,
    REASON_OK,
    REASON_PROTOCOL,
    REASON_TIMEOUT,
    REASON_TLS,
    REASON_TOO_LARGE,
    ProbeResult,
    failure,
)


class ProbeFailure(Exception):
    """A classified failure: raised inside a probe, turned into a result at its edge."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class PhaseClock:
    """Times the consecutive phases of one attempt and remembers which one is running."""

    def __init__(self) -> None:
        self.start = self._begun = time.perf_counter()
        self.started_at = time.time()
        self.phases: dict[str, float] = {}
        self.current = "dns"

    def begin(self, phase: str) -> None:
        """Start timing ``phase``; it is recorded only if :meth:`end` is reached."""
        self.current = phase
        self._begun = time.perf_counter()

    def end(self) -> None:
        """Record the running phase as complete."""
        self.phases[self.current] = time.perf_counter() - self._begun

    def elapsed(self) -> float:
        """Seconds since the attempt started."""
        return time.perf_counter() - self.start


def where(host: str, port: int) -> str:
    """``host:port`` (``[v6]:port`` for an IPv6 address), as messages name a peer."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def classify_error(phase: str, exc: OSError, at: str | None = None) -> tuple[str, str]:
    """The reason and message for a network error raised while ``phase`` was running.

    ``at`` (``host:port``) names the peer in the message, so a refusal says whose.
    """
    # OpenSSL's short texts first: "certificate has expired", "WRONG_VERSION_NUMBER".
    text = (getattr(exc, "verify_message", None) or getattr(exc, "reason", None)
            or exc.strerror or str(exc) or type(exc).__name__)
    peer = f" {at}" if at else ""
    if isinstance(exc, TimeoutError):  # the kernel's ETIMEDOUT, not our deadline
        return REASON_TIMEOUT, f"{phase}{peer}: {text}"
    if isinstance(exc, socket.gaierror):
        return REASON_DNS, f"cannot resolve: {text}"
    # Whatever breaks a handshake (even a reset from a plain-TCP peer) is a TLS failure.
    if phase == "tls":
        return REASON_TLS, f"TLS handshake{' with' + peer if at else ''}: {text}"
    if isinstance(exc, ssl.SSLError):
        return REASON_TLS, f"TLS during {phase}{' with' + peer if at else ''}: {text}"
    if isinstance(exc, ConnectionRefusedError):
        return REASON_CONNECT_REFUSED, f"connection to {at} refused" if at else \
            "connection refused"
    return REASON_CONNECT_ERROR, f"{phase}{peer}: {text}"


async def resolve(host: str, port: int, clock: PhaseClock) -> str:
    """The first address ``host`` resolves to; an IP literal is returned as is, untimed."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    clock.begin("dns")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeFailure(REASON_DNS, f"cannot resolve {host}: {exc.strerror}") from exc
    except UnicodeError as exc:  # a label IDNA cannot encode
        raise ProbeFailure(REASON_DNS, f"invalid host name {host!r}") from exc
    clock.end()
    return str(infos[0][4][0])


@dataclass(frozen=True, slots=True)
class Connection:
    """An open (possibly TLS) stream to a target."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    address: str

    def cert_expiry(self) -> float | None:
        """``notAfter`` of the peer's leaf certificate, verified or not; None without TLS."""
        ssl_object = self.writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return not_after_timestamp(der) if der else None

    def details(self) -> dict[str, str]:
        """The peer address and, over TLS, the negotiated version and cipher."""
        facts = {"address": self.address}
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            facts["tls_version"] = ssl_object.version() or ""
            cipher = ssl_object.cipher()
            facts["cipher"] = cipher[0] if cipher else ""
        return facts

    def abort(self) -> None:
        """Drop the connection at once, without waiting for the peer."""
        self.writer.transport.abort()


async def connect(
    host: str,
    port: int,
    clock: PhaseClock,
    *,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> Connection:
    """Resolve, connect and (with ``ssl_context``) handshake, timing each phase.

    Raises :class:`ProbeFailure` for a classified failure; the caller sets the deadline.
    """
    address = await resolve(host, port, clock)
    clock.begin("connect")
    try:
        reader, writer = await asyncio.open_connection(address, port)
    except OSError as exc:
        raise ProbeFailure(*classify_error("connect", exc, where(host, port))) from exc
    clock.end()
    conn = Connection(reader, writer, address)
    if ssl_context is None:
        return conn
    clock.begin("tls")
    try:
        await writer.start_tls(ssl_context, server_hostname=server_hostname)
    except BaseException as exc:  # the deadline's cancellation too: never leak the socket
        conn.abort()
        if isinstance(exc, OSError):
            raise ProbeFailure(*classify_error("tls", exc, where(host, port))) from exc
        raise
    clock.end()
    return conn


def succeeded(target: Target, clock: PhaseClock, **extra: object) -> ProbeResult:
    """A success, *degraded* when slower than the target's latency threshold."""
    duration = clock.elapsed()
    threshold = target.latency_threshold_seconds
    degraded = threshold is not None and duration > threshold
    message = f"{duration:.3f}s is over the {threshold:g}s latency threshold" if degraded else ""
    return ProbeResult(
        success=True, reason=REASON_OK, duration_seconds=duration, degraded=degraded,
        message=message, phases=dict(clock.phases), started_at=clock.started_at,
        **extra,  # type: ignore[arg-type]
    )


def failed(exc: ProbeFailure, clock: PhaseClock, **extra: object) -> ProbeResult:
    """The result for a classified failure."""
    return failure(exc.reason, exc.message, clock.elapsed(), phases=dict(clock.phases),
                   started_at=clock.started_at, **extra)


def timed_out(target: Target, clock: PhaseClock, **extra: object) -> ProbeResult:
    """The result for an attempt cut off by its deadline."""
    exc = ProbeFailure(REASON_TIMEOUT, f"no answer within {target.timeout_seconds:g}s"
                                       f" (during {clock.current})")
    return failed(exc, clock, **extra)


def encode_payload(text: str | None) -> bytes:
    """``send`` as bytes, one byte per character; ValueError names the first that is not."""
    if text is None:
        return b""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"send: character {text[exc.start]!r} at {exc.start} is not one byte "
                         "(use \\xNN escapes for binary data)") from None


async def read_until(reader: asyncio.StreamReader, pattern: re.Pattern[str], limit: int,
                     clock: PhaseClock) -> int:
    """Read until ``pattern`` matches the first ``limit`` bytes; return the bytes read."""
    buffer = bytearray()
    while True:
        # One byte over the limit tells "too large" apart from "closed at the limit".
        chunk = await reader.read(limit + 1 - len(buffer))
        if not chunk:
            raise ProbeFailure(REASON_BODY_MISMATCH, f"closed after {len(buffer)} bytes "
                                                     f"without a match for {pattern.pattern!r}")
        if not buffer:
            clock.end()
            clock.begin("transfer")
        buffer += chunk
        if pattern.search(buffer[:limit].decode("latin-1")):
            clock.end()
            return len(buffer)
        if len(buffer) > limit:
            raise ProbeFailure(REASON_TOO_LARGE,
                               f"no match for {pattern.pattern!r} in the first {limit} bytes")


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Connect to a ``tcp`` target and run its exchange; never raises for the peer."""
    spec = target.spec
    if not isinstance(spec, TcpSpec):
        raise TypeError(f"tcp probe given a {type(spec).__name__}")
    # Set up before the clock starts: the TLS context is omniwatch's cost, not the target's.
    ssl_context = ctx.ssl_contexts.get(spec.tls_config) if spec.tls else None
    pattern = re.compile(spec.expect_regex) if spec.expect_regex is not None else None
    clock = PhaseClock()
    try:
        payload = encode_payload(spec.send)
    except ValueError as exc:
        return failed(ProbeFailure(REASON_PROTOCOL, str(exc)), clock)
    conn: Connection | None = None
    expiry: float | None = None
    details: dict[str, str] = {}
    try:
        async with asyncio.timeout(target.timeout_seconds):
            conn = await connect(spec.host, spec.port, clock, ssl_context=ssl_context,
                                 server_hostname=spec.tls_config.server_name or spec.host)
            expiry = conn.cert_expiry()
            details = conn.details()
            clock.begin("first_byte")
            try:
                if payload:
                    conn.writer.write(payload)
                    await conn.writer.drain()
                if pattern is not None:
                    details["bytes_read"] = str(
                        await read_until(conn.reader, pattern, spec.max_read_bytes, clock))
            except OSError as exc:
                raise ProbeFailure(*classify_error(clock.current, exc,
                                                   where(spec.host, spec.port))) from exc
    except ProbeFailure as exc:
        return failed(exc, clock, cert_expiry_timestamp=expiry, details=details)
    except TimeoutError:
        return timed_out(target, clock, cert_expiry_timestamp=expiry, details=details)
    finally:
        if conn is not None:
            conn.abort()
    return succeeded(target, clock, cert_expiry_timestamp=expiry, details=details)
