"""What can end an HTTP exchange, and how each is reported: a stable reason, a safe message.

Exceptions the http probe turns into results:

* :class:`ProtocolError` (defined here): the peer broke HTTP/1.1, or a redirect points
  nowhere usable.  Its one argument is a message template naming at most ``{where}``.
* :class:`OSError` from the socket layer: :class:`socket.gaierror` (the name did not
  resolve), :class:`ConnectionRefusedError`, resets and other errors; and, as OSError
  subclasses, :class:`ssl.SSLCertVerificationError` and :class:`ssl.SSLError`.

:func:`classify` maps them to :data:`probes.result.REASONS`.  Messages are built here
rather than taken from ``str(exc)``: only host, port, and the OS/TLS error name are
shown, never bytes the peer sent nor a URL's query (which can carry a token).
"""

from __future__ import annotations

import socket
import ssl
from typing import Final

from probes._http_request import Endpoint
from probes.result import (
    REASON_CONNECT_ERROR,
    REASON_CONNECT_REFUSED,
    REASON_DNS,
    REASON_PROTOCOL,
    REASON_TLS,
)


class ProtocolError(Exception):
    """The peer did not speak HTTP/1.1 as it must (reason ``protocol``)."""


CLOSED_EARLY: Final = "{where} closed the connection before a complete response"
BAD_BODY: Final = "malformed or truncated body from {where}"
BAD_RESPONSE: Final = "invalid HTTP response from {where}"
NON_HTTP_REDIRECT: Final = "redirect to a non-HTTP location"
BAD_URL: Final = "invalid URL or redirect location"
BAD_REQUEST: Final = "the configured method or a header cannot be sent"


def where(hop: Endpoint | None) -> str:
    """``host:port`` of a hop (``[v6]:port`` for IPv6), or ``target`` before any."""
    if hop is None:
        return "target"
    host = f"[{hop.host}]" if ":" in hop.host else hop.host
    return f"{host}:{hop.port}"


def classify(exc: OSError | ProtocolError, stage: str, hop: Endpoint | None) -> tuple[str, str]:
    """``(reason, message)`` for ``exc``, raised while the probe was at ``stage``.

    ``hop`` is the connection being made, which after a redirect is not the
    configured URL's.  Anything going wrong during the TLS handshake is ``tls``, even
    a plain reset: a peer that drops a ClientHello does not speak TLS.
    """
    at = where(hop)
    if isinstance(exc, ProtocolError):
        return REASON_PROTOCOL, str(exc).format(where=at)
    if isinstance(exc, socket.gaierror):
        return REASON_DNS, f"cannot resolve {hop.host if hop else 'target'}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or type(exc).__name__
        return REASON_TLS, f"certificate of {at} rejected: {detail}"
    if isinstance(exc, ssl.SSLError):
        return REASON_TLS, f"TLS with {at} failed: {exc.reason or type(exc).__name__}"
    if stage == "tls":
        return REASON_TLS, f"TLS with {at} failed: {os_reason(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return REASON_CONNECT_REFUSED, f"connection to {at} refused"
    if stage == "connect":
        return REASON_CONNECT_ERROR, f"cannot connect to {at}: {os_reason(exc)}"
    return REASON_CONNECT_ERROR, f"connection to {at} failed: {os_reason(exc)}"


def os_reason(exc: OSError) -> str:
    """The OS's short text for ``exc`` ("Connection reset by peer"), or its type name."""
    return exc.strerror or type(exc).__name__
