"""Pure HTTP/1.1 helpers of the http probe: request bytes, redirects, headers, cookies.

No I/O and no clocks: :mod:`probes.http` drives the exchange, these functions decide
what to send and where to go next, so each is tested directly.  Header names here are
compared case-insensitively; response headers arrive as lower-cased ``bytes`` names.
"""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from yarl import URL

USER_AGENT: Final = "omniwatch-probe/0.1"

Header = tuple[bytes, bytes]  # (lower-cased name, raw value) as received

REDIRECT_STATUSES: Final = frozenset((301, 302, 303, 307, 308))

# Headers the probe adds unless the target's config sets the same name.  Accept-Encoding
# is limited to what zlib decodes; the connection is closed after every response
# (unless the request is a journey step's, see build_request).
_DEFAULTS: Final = {
    "user-agent": f"User-Agent: {USER_AGENT}\r\n".encode(),
    "accept": b"Accept: */*\r\n",
    "accept-encoding": b"Accept-Encoding: gzip, deflate\r\n",
}
# Message framing belongs to the probe: configured values for these are not sent.
_FRAMING: Final = frozenset(("content-length", "transfer-encoding", "connection"))
# Credentials a redirect must not carry to another origin (as browsers, Go and aiohttp).
_ORIGIN_BOUND: Final = frozenset(("authorization", "proxy-authorization", "cookie", "host"))
# The end of a request head: closing the connection, or (a journey step) keeping it.
_CLOSE_END: Final = b"Connection: close\r\n\r\n"
_KEEP_END: Final = b"\r\n"
_BODY_METHODS: Final = frozenset(("POST", "PUT", "PATCH"))
_TOKEN_CHARS: Final = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one hop connects and what its request line and Host header say."""

    tls: bool
    host: str  # ASCII (IDNA) host name or IP literal, without brackets
    port: int
    authority: bytes  # the Host header value: host, plus ``:port`` when not the default
    target: bytes  # the encoded path and query


def endpoint(url: URL) -> Endpoint:
    """The :class:`Endpoint` of an absolute ``http``/``https`` URL; ValueError otherwise."""
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise ValueError("not an HTTP URL")
    host = url.raw_host
    port = url.port
    if not host or port is None:
        raise ValueError("URL without a host")
    authority = f"[{host}]" if ":" in host else host
    if not url.is_default_port():
        authority = f"{authority}:{port}"
    return Endpoint(scheme == "https", host, port, authority.encode("ascii"),
                    url.raw_path_qs.encode("ascii"))


def _is_token(name: bytes) -> bool:
    return bool(name) and all(c in _TOKEN_CHARS for c in name)


def build_request(
    method: str,
    url: URL,
    at: Endpoint,
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
    cookie: str | None = None,
    *,
    keep_alive: bool = False,
) -> bytes:
    """The complete HTTP/1.1 request (head and body) for one hop.

    ``headers`` are the configured ones, sent in order; they override the probe's
    defaults (User-Agent, Accept, Accept-Encoding, Host) by name.  Content-Length is
    sent with a body, and as 0 for a body-less POST, PUT or PATCH.  ``cookie`` (from
    earlier hops) joins a configured Cookie header.  ``Connection: close`` is sent unless
    ``keep_alive`` (a journey's steps share connections).  Raises ValueError for a method
    or header that cannot be sent verbatim (a CR or LF would smuggle a header).
    """
    method_bytes = method.encode("ascii")
    if not _is_token(method_bytes):
        raise ValueError("invalid method")
    parts = [method_bytes, b" ", at.target, b" HTTP/1.1\r\n"]
    configured: set[str] = set()
    for name, value in headers:
        lower = name.lower()
        if lower in _FRAMING:
            continue
        if lower == "cookie" and cookie:
            value, cookie = f"{value}; {cookie}", None
        raw_name, raw_value = name.encode("latin-1"), value.encode("utf-8")
        if not _is_token(raw_name) or b"\r" in raw_value or b"\n" in raw_value \
                or b"\0" in raw_value:
            raise ValueError("invalid header")
        configured.add(lower)
        parts += (raw_name, b": ", raw_value, b"\r\n")
    if "host" not in configured:
        parts += (b"Host: ", at.authority, b"\r\n")
    for lower, line in _DEFAULTS.items():
        if lower not in configured:
            parts.append(line)
    if url.raw_user is not None and "authorization" not in configured:
        credentials = f"{url.user or ''}:{url.password or ''}".encode()
        parts += (b"Authorization: Basic ", base64.b64encode(credentials), b"\r\n")
    if cookie:
        parts += (b"Cookie: ", cookie.encode("utf-8"), b"\r\n")
    if body is not None or method in _BODY_METHODS:
        parts += (b"Content-Length: ", str(len(body or b"")).encode(), b"\r\n")
    parts.append(_KEEP_END if keep_alive else _CLOSE_END)
    if body:
        parts.append(body)
    return b"".join(parts)


def header(headers: Sequence[Header], name: bytes) -> bytes | None:
    """The first value of the lower-cased ``name``, or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def charset_of(content_type: bytes | None) -> str | None:
    """The ``charset`` parameter of a Content-Type value, unquoted, or None."""
    if not content_type:
        return None
    for param in content_type.split(b";")[1:]:
        key, _, value = param.partition(b"=")
        if key.strip().lower() == b"charset":
            return value.strip().strip(b'"').decode("latin-1") or None
    return None


class BadLocation(ValueError):
    """A redirect's Location that cannot be followed."""


class NonHttpRedirect(BadLocation):
    """A redirect to a scheme other than ``http``/``https`` (``ftp:``, ``mailto:``)."""


def redirect_url(current: URL, location: bytes) -> URL:
    """``location`` resolved against ``current``, without a fragment.

    Raises :class:`NonHttpRedirect` for another scheme, :class:`BadLocation` for
    anything else that is not a valid absolute ``http``/``https`` URL: the probe
    reports either as ``protocol``.
    """
    try:
        text = location.decode("utf-8", "surrogateescape").strip()
        target = current.join(URL(text)).with_fragment(None) if text else None
    except ValueError as exc:  # UnicodeError included
        raise BadLocation("invalid location") from exc
    if target is None:
        raise BadLocation("empty location")
    if target.scheme not in ("http", "https"):
        raise NonHttpRedirect("not an HTTP location")
    try:
        endpoint(target)  # a host and a valid port
    except ValueError as exc:
        raise BadLocation("invalid location") from exc
    return target


def redirect_method(status: int, method: str) -> tuple[str, bool]:
    """``(method, keep_body)`` for following a ``status`` redirect of a ``method`` request.

    303 turns anything but HEAD into a body-less GET; 301 and 302 do so for POST
    (what browsers do, and Go's client); 307 and 308 repeat the request unchanged.
    """
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET", False
    return method, True


def same_origin(a: URL, b: URL) -> bool:
    """True when scheme, host and port are equal."""
    return a.scheme == b.scheme and a.raw_host == b.raw_host and a.port == b.port


def cross_origin_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The configured headers fit for a hop to another origin than the configured one.

    Credentials (Authorization, Cookie) and a configured Host belong to the configured
    origin only.
    """
    return tuple((n, v) for n, v in headers if n.lower() not in _ORIGIN_BOUND)


# --- cookies across one redirect chain (RFC 6265, the parts a probe needs) -------------

CookieJar = dict[tuple[str, str, str], tuple[str, bool, bool]]
"""``(domain, path, name) -> (value, host_only, secure)``, for one probe only."""


def _default_path(url: URL) -> str:
    path = url.raw_path
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or (host.endswith("." + domain) and ":" not in host
                              and not host.replace(".", "").isdigit())


def _is_delta(arg: str) -> bool:
    # RFC 6265's max-age-av: an optional "-" and ASCII digits ("²".isdigit() is True).
    digits = arg.removeprefix("-")
    return digits.isascii() and digits.isdigit()


def _expires_by(date: str, now: float) -> bool:
    """True when the ``Expires`` ``date`` is at or before ``now``.

    A date that cannot be read (or whose year no calendar holds: ``01 Jan 99999``) means
    no expiry: a hostile header must not make the probe raise.
    """
    try:
        when = email.utils.parsedate_tz(date)
        return when is not None and email.utils.mktime_tz(when) <= now
    except (ValueError, OverflowError, IndexError, TypeError):
        return False


def store_cookies(jar: CookieJar, url: URL, set_cookies: Sequence[bytes], now: float) -> None:
    """Update ``jar`` with the ``Set-Cookie`` values of a response from ``url``."""
    host = url.raw_host or ""
    for raw in set_cookies:
        pair, *attrs = raw.decode("utf-8", "replace").split(";")
        name, eq, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            continue
        domain, path, secure, expired = host, _default_path(url), False, False
        host_only = True
        for attr in attrs:
            key, _, arg = attr.partition("=")
            key, arg = key.strip().lower(), arg.strip()
            if key == "domain" and arg:
                domain, host_only = arg.lstrip(".").lower(), False
            elif key == "path" and arg.startswith("/"):
                path = arg
            elif key == "secure":
                secure = True
            elif key == "max-age" and _is_delta(arg):
                # Only "zero or less?" matters: no int() of a hostile 5,000-digit value.
                expired = arg.startswith("-") or not arg.strip("0")
            elif key == "expires":
                expired = _expires_by(arg, now)
        if not _domain_match(host, domain):
            continue  # a cookie for someone else's domain is ignored
        key3 = (domain, path, name)
        if expired:
            jar.pop(key3, None)
        else:
            jar[key3] = (value, host_only, secure)


def cookie_header(jar: CookieJar, url: URL) -> str | None:
    """The ``Cookie`` value ``jar`` holds for ``url``, longest paths first, or None."""
    if not jar:
        return None
    host, path, tls = url.raw_host or "", url.raw_path or "/", url.scheme == "https"
    chosen = []
    for (domain, cookie_path, name), (value, host_only, secure) in jar.items():
        if secure and not tls:
            continue
        if (host != domain) if host_only else not _domain_match(host, domain):
            continue
        if not (path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/")):
            continue
        chosen.append((-len(cookie_path), f"{name}={value}"))
    chosen.sort(key=lambda item: item[0])
    return "; ".join(pair for _, pair in chosen) or None
