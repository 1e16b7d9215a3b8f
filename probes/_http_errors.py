"""Classify what went wrong in an HTTP exchange: a stable reason and a safe message.

Pure: maps an exception raised by aiohttp (or the socket layer under it) to one of
:data:`probes.result.REASONS`.  Messages are built here rather than taken from
``str(exc)``, because aiohttp's texts can quote raw bytes the peer sent, and a URL's
query can carry a token: only host, port and the OS/TLS error name are shown.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp
from yarl import URL

from probes.result import (
    REASON_CONNECT_ERROR,
    REASON_CONNECT_REFUSED,
    REASON_DNS,
    REASON_PROTOCOL,
    REASON_TLS,
)


def classify(exc: BaseException, url: str) -> tuple[str, str]:
    """``(reason, message)`` for an error of the exchange with ``url``.

    Checked from the most specific to the most general: aiohttp's TLS errors are
    connector errors, and its connector errors are OS errors.
    """
    if isinstance(exc, aiohttp.ClientConnectorError):
        # The host actually being connected to, which after a redirect is not the URL's.
        host, where = exc.host, f"{exc.host}:{exc.port}"
    else:
        host, where = _host_port(url)
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror)
    ):
        return REASON_DNS, f"cannot resolve {host}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        detail = getattr(cert_error, "verify_message", None) or type(cert_error).__name__
        return REASON_TLS, f"certificate of {where} rejected: {detail}"
    if isinstance(exc, aiohttp.ClientSSLError) or _ssl_cause(exc):
        return REASON_TLS, f"TLS with {where} failed: {_ssl_reason(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return REASON_CONNECT_REFUSED, f"connection to {where} refused"
        return REASON_CONNECT_ERROR, f"cannot connect to {where}: {os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return REASON_PROTOCOL, f"{where} closed the connection before a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return REASON_PROTOCOL, f"malformed or truncated body from {where}"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return REASON_PROTOCOL, "redirect to a non-HTTP location"
    if isinstance(exc, aiohttp.InvalidURL):
        return REASON_PROTOCOL, "invalid URL or redirect location"
    if isinstance(exc, aiohttp.ClientResponseError):
        return REASON_PROTOCOL, f"invalid HTTP response from {where}"
    if isinstance(exc, OSError):  # ClientOSError included: a reset mid-exchange
        return REASON_CONNECT_ERROR, f"connection to {where} failed: {os_reason(exc)}"
    return REASON_PROTOCOL, f"HTTP exchange with {where} failed: {type(exc).__name__}"


def _host_port(url: str) -> tuple[str, str]:
    try:
        parsed = URL(url)
    except ValueError:
        return "target", "target"
    return str(parsed.host), f"{parsed.host}:{parsed.port}"


def _ssl_cause(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError)


def _ssl_reason(exc: BaseException) -> str:
    # aiohttp's ClientConnectorSSLError *is* an ssl.SSLError but carries no ``reason``;
    # the one OpenSSL raised is its ``os_error``.
    for candidate in (getattr(exc, "os_error", None), exc.__cause__, exc):
        reason = getattr(candidate, "reason", None)
        if isinstance(candidate, ssl.SSLError) and isinstance(reason, str):
            return reason
    return type(exc).__name__


def os_reason(exc: OSError) -> str:
    """The OS's short text for ``exc`` ("Connection reset by peer"), or its type name."""
    return exc.strerror or type(exc).__name__
