"""The store's database connection: opened on first use, reopened with backoff after a loss.

A history database goes away (PostgreSQL restarts, a network partition, a full or
read-only disk) and comes back; the monitor must neither stop nor hammer it.
:class:`Link` holds at most one DB-API connection.  When a failure leaves the connection
unusable the store drops it, and the next use opens a new one; a failed *open* waits
before the next try, doubling from :data:`RETRY_INITIAL_SECONDS` up to
:data:`RETRY_MAX_SECONDS`.  While it waits, every use fails at once with
:class:`StoreDown` instead of blocking a scrape or a flush on a dead server.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

RETRY_INITIAL_SECONDS: Final = 1.0
RETRY_MAX_SECONDS: Final = 30.0


class StoreDown(Exception):
    """The history database cannot be used now; results stay buffered and are retried.

    ``error`` is a stable class for a metric label (``connection``, ``read_only``,
    ``disk_full``, ``io_error``, ``locked``, ``cannot_open``, ``database``).
    """

    def __init__(self, error: str, message: str) -> None:
        super().__init__(f"{error}: {message}")
        self.error = error


@dataclass(slots=True)
class Backoff:
    """Exponential backoff between attempts to open the connection (pure; pass ``now``)."""

    initial: float = RETRY_INITIAL_SECONDS
    maximum: float = RETRY_MAX_SECONDS
    delay: float = 0.0
    retry_at: float = 0.0

    def failed(self, now: float) -> None:
        """One more attempt failed: wait longer before the next."""
        self.delay = self.initial if self.delay == 0.0 else min(self.delay * 2, self.maximum)
        self.retry_at = now + self.delay

    def succeeded(self) -> None:
        """The connection is open again: the next failure starts from the shortest wait."""
        self.delay = 0.0
        self.retry_at = 0.0

    def wait_left(self, now: float) -> float:
        """Seconds until the next attempt is due (0 when it is)."""
        return max(0.0, self.retry_at - now)


class Link:
    """At most one open connection, made by ``connect`` and prepared by ``prepare``.

    ``classify`` names a driver error's class and ``broken`` tells whether it left the
    connection unusable.  Callers serialise use (the store's database lock).
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        prepare: Callable[[Any], None],
        classify: Callable[[BaseException], str],
        broken: Callable[[Any, BaseException], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._prepare = prepare
        self._classify = classify
        self._broken = broken
        self._clock = clock
        self._lock = threading.Lock()
        self.backoff = Backoff()
        self.conn: Any = None
        self.last_error: StoreDown | None = None

    def adopt(self, conn: Any) -> None:
        """Use ``conn``, already connected and prepared."""
        self.conn = conn

    def get(self) -> Any:
        """The open connection; opens one if due; raises :class:`StoreDown` if it cannot."""
        with self._lock:
            if self.conn is not None:
                return self.conn
            now = self._clock()
            left = self.backoff.wait_left(now)
            if left > 0:
                last = self.last_error
                raise StoreDown(last.error if last else "connection",
                                f"the history database is unreachable; next try in {left:.0f}s"
                                + (f" (last error: {last})" if last else ""))
            conn = None
            try:
                conn = self._connect()
                self._prepare(conn)
            except Exception as exc:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                self.backoff.failed(now)
                self.last_error = self.error(exc)
                raise self.last_error from None
            self.backoff.succeeded()
            self.conn = conn
            return conn

    def retry_now(self) -> None:
        """Forget the backoff: the next :meth:`get` tries at once (the last flush at exit)."""
        self.backoff.retry_at = 0.0

    def error(self, exc: BaseException) -> StoreDown:
        """``exc`` as a :class:`StoreDown` (already one: unchanged)."""
        if isinstance(exc, StoreDown):
            return exc
        # One line: driver messages carry newlines and hints meant for a terminal.
        text = " ".join(str(exc).split())
        return StoreDown(self._classify(exc), f"{type(exc).__name__}: {text}")

    def failed(self, exc: BaseException) -> StoreDown:
        """A use of the connection raised ``exc``: drop the connection if it broke."""
        down = self.error(exc)
        self.last_error = down
        if self.conn is not None and self._broken(self.conn, exc):
            self.close()
        return down

    def close(self) -> None:
        """Close the connection if one is open; never raises."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
