"""The ``tls`` probe: certificate chain, host name and expiry of a TLS endpoint.

A ``tls`` target (:class:`~monitor.config.model.TlsSpec`) passes when, within
``target.timeout_seconds``, a handshake with ``host:port`` verifies the chain (system CAs,
or ``tls.ca_file``) and the host name (``tls.server_name``, else ``host``), and the leaf
certificate stays valid for at least ``min_valid_seconds`` more.
``insecure_skip_verify`` skips the chain and name checks only: expiry and ``min_valid``
still apply, since watching expiry is what this probe is for.

``cert_expiry_timestamp`` is the presented leaf's ``notAfter``, reported even when
verification fails (as blackbox_exporter reports the presented chain): an expired or
untrusted certificate is exactly when on-call needs the date.  On a verification failure
the probe makes a second, unverified handshake within the same deadline to read it.  We
do not instead handshake unverified and verify by hand: Python 3.11's ssl verifies a chain
only inside a handshake, ``cryptography`` is not a runtime dependency, and a home-made chain
and name check would be weaker than OpenSSL's.
The second connection costs only failing targets.

Reasons: ``dns``, ``connect_refused``, ``connect_error`` and ``timeout`` as for ``tcp``;
``tls`` when the handshake fails (invalid chain, host name mismatch, expired: the message
is OpenSSL's) or the leaf expires within ``min_valid_seconds`` (the message gives days left);
``protocol`` when the presented certificate cannot be decoded.

Phases: ``dns`` (only for a host name), ``connect``, ``tls``.  Details: ``subject_cn``,
``issuer_cn``, ``tls_version``, ``cipher``, ``address``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Awaitable, Callable

from monitor.config.model import Target, TlsSpec
from probes._x509 import LeafCertificate, leaf_certificate
from probes.context import ProbeContext
from probes.result import REASON_PROTOCOL, REASON_TLS, ProbeResult
from probes.tcp import (
    Connection,
    PhaseClock,
    ProbeFailure,
    connect,
    failed,
    succeeded,
    timed_out,
)

_DAY_SECONDS = 86400.0


def presented_certificate(conn: Connection) -> LeafCertificate | None:
    """The leaf the peer presented over TLS, verified or not; None if there is none."""
    ssl_object = conn.writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if der is None:
        return None
    try:
        return leaf_certificate(der)
    except ValueError:
        return None


def with_min_valid(
    probe_fn: Callable[[Target, ProbeContext], Awaitable[ProbeResult]], min_valid_seconds: float
) -> Callable[[Target, ProbeContext], Awaitable[ProbeResult]]:
    """``probe_fn`` made to fail a success whose certificate expires within
    ``min_valid_seconds`` (reason ``tls``, message from :func:`expiry_problem`).

    The http and tcp probes report the expiry but have no such expectation of their own;
    ``omniwatch probe --min-valid`` holds them to the one a ``tls`` target has.
    """
    async def checked(target: Target, ctx: ProbeContext) -> ProbeResult:
        result = await probe_fn(target, ctx)
        if not result.success or result.cert_expiry_timestamp is None:
            return result
        problem = expiry_problem(result.cert_expiry_timestamp,
                                 result.started_at or time.time(), min_valid_seconds)
        if problem is None:
            return result
        return dataclasses.replace(result, success=False, degraded=False, reason=REASON_TLS,
                                   message=problem)
    return checked


def expiry_problem(not_after: float, now: float, min_valid_seconds: float) -> str | None:
    """Why a certificate expiring at ``not_after`` fails at ``now``, or None if it passes."""
    left = not_after - now
    if left <= 0:
        return f"certificate expired {abs(left) / _DAY_SECONDS:.1f} days ago"
    if left < min_valid_seconds:
        return (f"certificate expires in {left / _DAY_SECONDS:.1f} days, less than the "
                f"required {min_valid_seconds / _DAY_SECONDS:g} days")
    return None


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Handshake with a ``tls`` target and check its certificate; never raises for the peer."""
    spec = target.spec
    if not isinstance(spec, TlsSpec):
        raise TypeError(f"tls probe given a {type(spec).__name__}")
    server_name = spec.tls_config.server_name or spec.host
    # Built before the clock starts: the context is omniwatch's cost, not the target's.
    ssl_context = ctx.ssl_contexts.get(spec.tls_config)
    clock = PhaseClock()
    deadline = asyncio.get_running_loop().time() + target.timeout_seconds
    try:
        async with asyncio.timeout_at(deadline):
            conn = await connect(spec.host, spec.port, clock, ssl_context=ssl_context,
                                 server_hostname=server_name)
    except TimeoutError:
        return timed_out(target, clock)
    except ProbeFailure as exc:
        result = failed(exc, clock)  # timed now: the second look is not the target's cost
        leaf = None
        if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
            leaf = await _unverified_look(spec, ctx, server_name, deadline)
        if leaf is None:
            return result
        return dataclasses.replace(result, cert_expiry_timestamp=leaf.not_after_timestamp,
                                   details=leaf.details())
    try:
        leaf = presented_certificate(conn)
        details = conn.details()
    finally:
        conn.abort()
    if leaf is None:
        return failed(ProbeFailure(REASON_PROTOCOL, "the server's certificate could not be "
                                                    "decoded"), clock, details=details)
    details.update(leaf.details())
    extra = {"cert_expiry_timestamp": leaf.not_after_timestamp, "details": details}
    problem = expiry_problem(leaf.not_after_timestamp, time.time(), spec.min_valid_seconds)
    if problem is not None:
        return failed(ProbeFailure(REASON_TLS, problem), clock, **extra)
    return succeeded(target, clock, **extra)


async def _unverified_look(spec: TlsSpec, ctx: ProbeContext, server_name: str,
                           deadline: float) -> LeafCertificate | None:
    """The leaf the server presents, fetched without verification; None if that fails too."""
    return await unverified_leaf(spec.host, spec.port, server_name,
                                 ctx.ssl_contexts.get(spec.tls_config, verify=False), deadline)


async def unverified_leaf(host: str, port: int, server_name: str,
                          ssl_context: ssl.SSLContext, deadline: float) -> LeafCertificate | None:
    """The leaf ``host:port`` presents, over an unverified ``ssl_context``, by ``deadline``.

    For reporting the expiry of a certificate a verified handshake refused; None when the
    second handshake fails too.
    """
    try:
        async with asyncio.timeout_at(deadline):
            conn = await connect(host, port, PhaseClock(), ssl_context=ssl_context,
                                 server_hostname=server_name)
    except (TimeoutError, ProbeFailure):
        return None
    try:
        return presented_certificate(conn)
    finally:
        conn.abort()
