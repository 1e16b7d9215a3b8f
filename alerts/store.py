"""What alerting needs from the store: alert state, silences, the outbox, threads, a lease.

:class:`AlertStore` is implemented by the SQL history store (SQLite, PostgreSQL:
``monitor.store.alert_store``).  Every method blocks: call it from a worker thread.
Every method raises ``StoreDown`` (from ``monitor.store``) when the database fails;
alerting treats that as "try again", never as "no alerts".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from alerts.model import Alert, Group, Notification, OutboxEntry, Silence


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the state machine remembers between ticks."""

    alerts: Mapping[str, Alert] = field(default_factory=dict)  # by fingerprint
    groups: Mapping[tuple[str, str], Group] = field(default_factory=dict)  # (route, key)


@dataclass(frozen=True, slots=True)
class StateChange:
    """What one tick changed, written in ONE transaction with its notifications: after a
    crash either both are there (the outbox delivers) or neither (the tick runs again)."""

    alerts: Sequence[Alert] = ()
    removed_alerts: Sequence[str] = ()  # fingerprints
    groups: Sequence[Group] = ()
    removed_groups: Sequence[tuple[str, str]] = ()
    notifications: Sequence[Notification] = ()

    def __bool__(self) -> bool:
        return bool(self.alerts or self.removed_alerts or self.groups
                    or self.removed_groups or self.notifications)


class AlertStore(Protocol):
    """Durable alerting state, shared by replicas through PostgreSQL."""

    def load_engine_state(self) -> EngineState:
        """The alerts and groups as last saved."""

    def save_change(self, change: StateChange) -> None:
        """Apply ``change`` atomically (notifications enter the outbox as pending)."""

    def add_silence(self, silence: Silence) -> None:
        """Store a new silence (its id is unique)."""

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End the silence now; False if there is no such silence or it already ended."""

    def silences(self, now: float, *, include_expired: bool = False) -> list[Silence]:
        """Silences not yet ended at ``now`` (with ``include_expired``, every one kept),
        newest first."""

    def due_notifications(self, now: float, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries whose ``next_attempt_at`` has come, oldest first (by
        ``created_at`` then id), at most ``limit``."""

    def pending_notifications(self, receiver: str | None = None) -> list[OutboxEntry]:
        """Every pending entry (of one receiver), oldest first: ordering needs the ones
        not yet due too."""

    def outbox_counts(self) -> Mapping[str, int]:
        """Entries per state (``pending``, ``delivered``, ``failed``)."""

    def record_attempt(self, notification_id: str, attempts: int, next_attempt_at: float,
                       error: str | None) -> None:
        """A send is starting (``error`` None) or failed and will be retried."""

    def mark_delivered(self, notification_id: str, delivered_at: float,
                       receipt: Mapping[str, str]) -> None:
        """The provider accepted it: done, never sent again."""

    def mark_failed(self, notification_id: str, at: float, error: str) -> None:
        """A permanent error: never retried."""

    def thread(self, receiver: str, episode: str) -> Mapping[str, str] | None:
        """The receipt of the episode's first delivered message (Slack channel, ts)."""

    def save_thread(self, receiver: str, episode: str, receipt: Mapping[str, str]) -> None:
        """Remember the receipt of the message that opened ``episode``."""

    def prune_outbox(self, before: float) -> int:
        """Forget delivered and failed entries (and threads of closed episodes) older
        than ``before``; returns entries removed."""

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float, now: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``; True if
        ``holder`` holds it now.  A lease whose holder stopped renewing passes on."""

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up (at shutdown), if ``holder`` holds it."""
