"""Delivery errors: each knows whether retrying can help (as healthchecks' transports do).

::

    DeliveryError            the provider did not accept the notification
    ├── PermanentError       retrying cannot help: bad token, unknown channel, bad payload
    └── RetryableError       it may work later: 5xx, 429, timeouts, connection errors
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A notification was not accepted.  ``code`` is a short stable word for logs and
    metrics (``invalid_auth``, ``http_500``, ``timeout``); the message never holds a
    secret or a URL with one."""

    permanent: bool = False

    def __init__(self, code: str, message: str = "", *,
                 retry_after: float | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        # Seconds the provider asked us to wait (HTTP Retry-After), when it said.
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Retrying the same notification cannot succeed; someone must fix the config."""

    permanent = True


class RetryableError(DeliveryError):
    """The provider or the network failed for now; retry with backoff."""
