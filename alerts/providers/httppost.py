"""POST over aiohttp for the plain-HTTP providers (Alertmanager, webhook), every outcome
turned into a status or a :class:`~alerts.errors.DeliveryError`.

How an answer is classified (Standard Webhooks' "delivery success and failure" advice,
which Alertmanager's API fits too):

=====================================  ====================================================
``2xx``                                accepted
``408``, ``429``, ``5xx``              :class:`RetryableError` ``http_STATUS``; its
                                       ``retry_after`` is the answer's ``Retry-After``
``3xx``                                :class:`PermanentError` ``http_STATUS``: redirects
                                       are not followed, the URL should name the target
other ``4xx`` (``400``, ``401``,       :class:`PermanentError` ``http_STATUS``, with the
``404``, ``410 Gone``, ``422`` ...)    server's own error text, shortened
timeout                                :class:`RetryableError` ``timeout``
refused, reset, DNS, TLS ...           :class:`RetryableError` ``connection``
a URL that is not http(s)             :class:`PermanentError` ``invalid_url``
=====================================  ====================================================

Messages name only the URL's origin (:func:`redact_url`): the rest may hold a secret.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Final

import aiohttp
from yarl import URL

from alerts.errors import DeliveryError, PermanentError, RetryableError

ERROR_TEXT_MAX: Final = 200
_BODY_READ_MAX: Final = 4096
RETRYABLE_STATUSES: Final = frozenset({408, 429})


def redact_url(url: str) -> str:
    """``url`` fit for a log line: its origin (scheme, host, port) only.  User-info and
    query may hold credentials, and so may the path (webhook URLs often end in a token)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return "<invalid url>"
    if not parsed.is_absolute() or not parsed.host:
        return "<invalid url>"
    return str(parsed.origin())


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """HTTP ``Retry-After`` (delta-seconds or an HTTP-date) as seconds from ``now``;
    None when absent or unreadable.  A date in the past is 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may lack the zone
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)


def error_text(body: bytes, limit: int = ERROR_TEXT_MAX) -> str:
    """The server's error message from an answer body, on one line, at most ``limit``
    characters (cut at a word boundary, marked with "…").

    Alertmanager answers a bad post with a JSON string (``"start time must be before end
    time"``) or a go-swagger object (``{"code":602,"message":"..."}``); anything else is
    taken as text.
    """
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, str):
        text = doc
    elif isinstance(doc, dict):
        message = doc.get("message", doc.get("error"))
        if isinstance(message, str):
            text = message
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip() + "…"


def classify(status: int, body: bytes, retry_after: str | None,
             now: float) -> DeliveryError | None:
    """The delivery error an HTTP answer means, or None for an accepted one (``2xx``)."""
    if 200 <= status < 300:
        return None
    code = f"http_{status}"
    detail = error_text(body)
    message = f"{code}: {detail}" if detail else code
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(code, message, retry_after=retry_after_seconds(retry_after, now))
    if 300 <= status < 400:
        return PermanentError(code, f"{code}: redirected; configure the final URL")
    return PermanentError(code, message)


def _connection_reason(exc: aiohttp.ClientError) -> str:
    # Our own words: some aiohttp messages quote the full URL, which may hold a secret.
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error.strerror:
        return f"{type(exc).__name__}: {exc.os_error.strerror}"
    return type(exc).__name__


class HttpPoster:
    """One lazily created :class:`aiohttp.ClientSession` (created on the first request,
    so inside the running loop) with a total timeout per request."""

    def __init__(self, timeout_seconds: float, user_agent: str = "omniwatch") -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._headers = {"User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout,
                                                  headers=self._headers)
        return self._session

    async def request(self, method: str, url: str, *, body: bytes | None = None,
                      headers: Mapping[str, str] | None = None) -> tuple[int, bytes, str | None]:
        """Send one request; return the status, the first bytes of the answer and its
        ``Retry-After``.  The status is not judged here (see :meth:`post`).

        Raises :class:`RetryableError` (``timeout``, ``connection``) when no answer came,
        :class:`PermanentError` (``invalid_url``) for a URL that cannot be requested.
        """
        where = redact_url(url)
        try:
            async with self._client().request(method, url, data=body, headers=headers,
                                              allow_redirects=False) as resp:
                answer = await resp.content.read(_BODY_READ_MAX)
                return resp.status, answer, resp.headers.get("Retry-After")
        except TimeoutError:  # asyncio.TimeoutError is this class on 3.11+
            raise RetryableError("timeout", f"no answer from {where} in time") from None
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError):
            raise PermanentError("invalid_url", f"cannot request {where}") from None
        except aiohttp.ClientError as exc:
            raise RetryableError("connection",
                                 f"{where}: {_connection_reason(exc)}") from None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body``; return the ``2xx`` status, or raise the delivery error that the
        answer (or its absence) means (see the module's table)."""
        status, answer, retry_after = await self.request("POST", url, body=body,
                                                         headers=headers)
        error = classify(status, answer, retry_after, time.time())
        if error is not None:
            raise error
        return status

    async def close(self) -> None:
        """Close the session (a later request opens a new one)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
