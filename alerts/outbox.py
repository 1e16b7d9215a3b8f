"""Delivering the durable outbox: once per receiver, in order, with retries and pacing.

Every notification is in the store before anything is sent (the state machine's tick
writes it with the state change that caused it).  A :class:`Dispatcher` runs one worker
per receiver; a worker takes that receiver's pending entries oldest first and does not
start the next before the head is delivered or has failed for good, so a receiver's
messages arrive in the order they were decided (a Slack thread's replies after its
opening post).

Never lose, never repeat:

* the attempt is recorded *before* the send, so after a crash an entry with attempts
  but no delivery may have been accepted; the provider is first asked to find it
  (Slack: the post's metadata carries the notification id) and only sent when not found;
* an entry is marked delivered only after the provider accepted it;
* a retryable error (5xx, 429, timeouts) is retried with exponential backoff and full
  jitter, never sooner than the provider's ``Retry-After``;
* a permanent error (bad token, unknown channel) marks the entry failed: logged once per
  receiver and error until a delivery works again, counted, and reported through
  ``broken`` so the self-health alert goes to another receiver;
* a store that is down stops the workers (nothing can be marked) until it is back.

Slack accepts about one message per second per channel: sends that share a pace key
(the Slack channel) are spaced ``min_interval`` apart, so a storm queues instead of
being rate limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from alerts.errors import DeliveryError
from alerts.model import OutboxEntry
from alerts.providers import Provider, Receipt
from alerts.store import AlertStore

log = logging.getLogger("omniwatch.alerts")
T = TypeVar("T")

BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 300.0
# How long a worker waits before looking at the store again after it failed.
STORE_RETRY_SECONDS: Final = 2.0
# A worker with nothing due wakes at least this often (new entries also wake it).
IDLE_POLL_SECONDS: Final = 5.0


def backoff_seconds(attempts: int, rng: random.Random, *, retry_after: float | None = None,
                    base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_MAX_SECONDS) -> float:
    """Delay before attempt ``attempts + 1``: full jitter over an exponential ceiling
    (AWS's "exponential backoff and jitter"), never below ``retry_after``."""
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    delay = rng.uniform(ceiling / 2, ceiling)  # half-jitter: never a hot retry loop
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one attempt, for metrics: ``result`` is ``delivered``,
    ``recovered`` (found already delivered after a crash), ``retry`` or ``failed``."""

    receiver: str
    kind: str  # the provider kind
    result: str
    notification_id: str
    delay_seconds: float | None = None  # decided -> accepted, for accepted ones
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """How one receiver is delivered: its provider, kind and pacing."""

    provider: Provider
    kind: str
    pace_key: str
    min_interval_seconds: float = 0.0


@dataclass
class _Pacer:
    last: dict[str, float] = field(default_factory=dict)

    def wait_seconds(self, key: str, interval: float, now: float) -> float:
        return max(0.0, self.last.get(key, -1e18) + interval - now)

    def sent(self, key: str, now: float) -> None:
        self.last[key] = now


class Dispatcher:
    """Delivers the outbox of ``store`` through ``routes`` (receiver name -> Destination).

    ``on_delivery`` sees every attempt's outcome (metrics).  ``broken`` is the set of
    receivers whose last attempt failed permanently (cleared by a delivery).
    """

    def __init__(self, store: AlertStore, routes: Mapping[str, Destination], *,
                 on_delivery: Callable[[Delivery], None] = lambda d: None,
                 clock: Callable[[], float] = time.time,
                 blocking: Callable[..., Awaitable[Any]] = asyncio.to_thread,
                 rng: random.Random | None = None) -> None:
        self._store = store
        self.routes = dict(routes)
        self._on_delivery = on_delivery
        self._clock = clock
        self._blocking = blocking
        self._rng = rng or random.Random()
        self._pacer = _Pacer()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self.broken: dict[str, str] = {}  # receiver -> error code
        # receiver -> (first failed attempt of the current run of retries, last error)
        self.retrying: dict[str, tuple[float, str]] = {}
        self._logged: set[tuple[str, str]] = set()
        self.store_ok = True

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """One worker per receiver (needs a running loop)."""
        for name in self.routes:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        if name in self._workers and not self._workers[name].done():
            return
        self._wake[name] = asyncio.Event()
        self._workers[name] = asyncio.create_task(self._worker(name),
                                                  name=f"outbox:{name}")

    def replace(self, routes: Mapping[str, Destination]) -> list[Provider]:
        """Switch to new routes (a reload); returns the providers no longer used (for the
        caller to close once their workers stopped).  Workers of removed receivers stop;
        their pending entries stay in the outbox for when the receiver comes back."""
        old = self.routes
        self.routes = dict(routes)
        for name in list(self._workers):
            if name not in self.routes:
                self._workers.pop(name).cancel()
                self._wake.pop(name, None)
        for name in self.routes:
            self._spawn(name)
            self.wake(name)
        used = {id(r.provider) for r in self.routes.values()}
        return [r.provider for r in old.values() if id(r.provider) not in used]

    async def stop(self) -> None:
        """Stop every worker; an attempt in flight is abandoned (it is recorded, so the
        next start looks it up before sending again)."""
        tasks = list(self._workers.values())
        self._workers.clear()
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def wake(self, receiver: str | None = None) -> None:
        """New entries were written: look now instead of at the next poll."""
        for name, event in self._wake.items():
            if receiver is None or name == receiver:
                event.set()

    async def attempt(self, receiver: str, entry: OutboxEntry) -> bool:
        """One attempt at ``entry`` now, outside the workers (``alerts test``); True when
        it is settled.  Raises what the store raises."""
        return await self._attempt(receiver, self.routes[receiver], entry)

    # --- the worker -----------------------------------------------------------------

    async def _worker(self, receiver: str) -> None:
        while True:
            wait = await self._pass(receiver)
            event = self._wake.get(receiver)
            if event is None:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=wait)
            event.clear()

    async def _pass(self, receiver: str) -> float:
        """Deliver what is due for ``receiver``; returns how long to sleep."""
        try:
            entries: list[OutboxEntry] = await self._blocking(
                self._store.pending_notifications, receiver)
        except Exception as exc:  # StoreDown: nothing can be marked, so nothing is sent
            self._store_failed(exc)
            return STORE_RETRY_SECONDS
        self.store_ok = True
        for entry in entries:
            route = self.routes.get(receiver)
            if route is None:
                return IDLE_POLL_SECONDS
            now = self._clock()
            if entry.next_attempt_at > now:
                return min(IDLE_POLL_SECONDS, float(entry.next_attempt_at - now))
            pace = self._pacer.wait_seconds(route.pace_key, route.min_interval_seconds, now)
            if pace > 0:
                await asyncio.sleep(pace)
            try:
                done = await self._attempt(receiver, route, entry)
            except Exception as exc:  # the store failed while marking: retry the pass
                self._store_failed(exc)
                return STORE_RETRY_SECONDS
            if not done:  # retrying later; keep the order: nothing after it goes first
                return 0.0
        return IDLE_POLL_SECONDS

    def _store_failed(self, exc: BaseException) -> None:
        if self.store_ok:
            log.error("outbox_store_failed", extra={
                "error": getattr(exc, "error", type(exc).__name__), "detail": str(exc)})
        self.store_ok = False

    async def _attempt(self, receiver: str, route: Destination, entry: OutboxEntry) -> bool:
        """One attempt at the head entry; True when it is settled (delivered or failed)."""
        n = entry.notification
        store = self._store
        thread = None
        if n.kind not in ("firing", "test"):
            thread = await self._blocking(store.thread, receiver, n.episode)
        if entry.attempts > 0:
            # An earlier attempt may have been accepted just before a crash or a timeout.
            try:
                found = await route.provider.find_delivered(n, thread)
            except DeliveryError:
                found = None
            if found is not None:
                await self._settle(receiver, route, entry, found, "recovered")
                return True
        attempts = entry.attempts + 1
        await self._blocking(store.record_attempt, n.id, attempts, entry.next_attempt_at, None)
        self._pacer.sent(route.pace_key, self._clock())
        try:
            receipt = await route.provider.send(n, thread)
        except DeliveryError as exc:
            now = self._clock()
            if exc.permanent:
                await self._blocking(store.mark_failed, n.id, now, exc.code)
                self._failed(receiver, route, entry, exc)
                return True
            self.retrying.setdefault(receiver, (now, exc.code))
            self.retrying[receiver] = (self.retrying[receiver][0], exc.code)
            delay = backoff_seconds(attempts, self._rng, retry_after=exc.retry_after)
            await self._blocking(store.record_attempt, n.id, attempts, now + delay, exc.code)
            self._on_delivery(Delivery(receiver, route.kind, "retry", n.id, error=exc.code))
            if attempts == 1 or attempts % 10 == 0:  # a line per outage, not per retry
                log.warning("notification_retry", extra={
                    "receiver": receiver, "notification": n.id, "error": exc.code,
                    "detail": str(exc), "attempts": attempts, "retry_in_seconds": round(delay, 1)})
            return False
        await self._settle(receiver, route, entry, receipt, "delivered")
        return True

    async def _settle(self, receiver: str, route: Destination, entry: OutboxEntry, receipt: Receipt,
                      result: str) -> None:
        n = entry.notification
        now = self._clock()
        await self._blocking(self._store.mark_delivered, n.id, now, dict(receipt))
        if n.kind == "firing" and receipt:
            await self._blocking(self._store.save_thread, receiver, n.episode, dict(receipt))
        self.retrying.pop(receiver, None)
        if receiver in self.broken:
            log.info("notifications_recovered", extra={"receiver": receiver})
            self.broken.pop(receiver)
            self._logged = {k for k in self._logged if k[0] != receiver}
        self._on_delivery(Delivery(receiver, route.kind, result, n.id,
                                   delay_seconds=max(0.0, now - n.created_at)))
        log.info("notification_delivered", extra={
            "receiver": receiver, "notification": n.id, "kind": n.kind,
            "alerts": len(n.alerts), "attempts": entry.attempts + (result == "delivered"),
            **({"recovered": True} if result == "recovered" else {})})

    def failing(self, now: float, after_seconds: float) -> dict[str, str]:
        """Receivers that fail for good, or have retried for longer than
        ``after_seconds`` (a wrong ``api_url`` answers 404 forever): receiver -> error."""
        out = {r: code for r, (since, code) in self.retrying.items()
               if now - since >= after_seconds}
        out.update(self.broken)
        return out

    def _failed(self, receiver: str, route: Destination, entry: OutboxEntry,
                exc: DeliveryError) -> None:
        self.retrying.pop(receiver, None)
        self.broken[receiver] = exc.code
        self._on_delivery(Delivery(receiver, route.kind, "failed", entry.notification.id,
                                   error=exc.code))
        if (receiver, exc.code) not in self._logged:
            self._logged.add((receiver, exc.code))
            log.error("notification_failed_permanently", extra={
                "receiver": receiver, "notification": entry.notification.id,
                "error": exc.code, "detail": str(exc)})
