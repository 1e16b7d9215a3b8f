"""Cancelling a consistency check that runs in a worker thread.

A check blocks in database drivers for minutes; Python cannot interrupt a thread, so the
sources register, for each connection they hold, a *stop* function that ends it from
another thread (PostgreSQL: terminate the backend; MySQL/MariaDB: ``KILL`` the
connection).  :meth:`CancelScope.cancel` calls them all and makes every later statement of
the check refuse to start, so the thread winds down within moments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from monitor.consistency.errors import SourceError

log = logging.getLogger("omniwatch.consistency")


def _nothing() -> None:
    return None


class CancelScope:
    """The cancellation of one check; thread-safe, cancelled at most once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._stops: dict[int, tuple[str, Callable[[], None]]] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def check(self, source: str) -> None:
        """Raise a ``cancelled`` :class:`SourceError` for ``source`` once cancelled."""
        if self._cancelled:
            raise SourceError(source, "cancelled", "the check was cancelled")

    def watch(self, source: str, stop: Callable[[], None]) -> Callable[[], None]:
        """Register ``stop`` (ends one connection of ``source``) until the returned release
        is called.  Raises like :meth:`check` when already cancelled, so a connection
        opened during the cancellation is not used."""
        with self._lock:
            self.check(source)
            token = self._next
            self._next += 1
            self._stops[token] = (source, stop)

        def release() -> None:
            with self._lock:
                self._stops.pop(token, None)

        return release

    def cancel(self) -> None:
        """Cancel: stop every registered connection (blocking: a second connection each)."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            stops = list(self._stops.values())
        for source, stop in stops:
            try:
                stop()
            except Exception as exc:  # the statement timeout is the backstop
                log.warning("consistency_cancel_failed", extra={
                    "source": source, "error": type(exc).__name__})


def watch(scope: CancelScope | None, source: str, stop: Callable[[], None]
          ) -> Callable[[], None]:
    """:meth:`CancelScope.watch`, or a no-op release without a scope (the CLI)."""
    return _nothing if scope is None else scope.watch(source, stop)
