"""Alerting's durable state in the history database: :class:`alerts.store.AlertStore`.

:class:`AlertStoreMixin` is a base of :class:`~.sql.SqlProbeStore`, so the SQLite and
PostgreSQL stores both implement it over the tables of schema migration 3.  It uses the
probe store's one connection and its database lock: every method blocks (call it from a
worker thread), is safe from any thread, and raises :class:`~.connection.StoreDown` when
the database fails, reconnecting with the same backoff as the probe history.

Crash safety comes from transactions, not from care in the caller: a whole
:class:`~alerts.store.StateChange` commits or nothing of it does, and an outbox id
already stored is never inserted again, so a tick re-run after a crash cannot queue a
second send of what the first run queued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

from alerts.model import OutboxEntry, Silence
from alerts.store import EngineState, StateChange
from monitor.store import alert_rows as rows

# How long an ended silence stays listable (``silence list --expired``, the API) before
# it is deleted: long enough to answer "who muted this last week?".
SILENCE_RETENTION_SECONDS: Final = 7 * 86400.0


class AlertStoreMixin:
    """The :class:`~alerts.store.AlertStore` methods, over the host store's connection.

    The host (:class:`~.sql.SqlProbeStore`) provides ``placeholder``, ``_db_lock``,
    ``_clock``, ``_transaction`` (a cursor in one transaction, driver errors raised as
    ``StoreDown``) and ``_query``.
    """

    if TYPE_CHECKING:
        placeholder: str
        _db_lock: AbstractContextManager[Any]
        _clock: Callable[[], float]

        def _transaction(self) -> AbstractContextManager[Any]: ...

        def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    # -- engine state -------------------------------------------------------------------

    def load_engine_state(self) -> EngineState:
        """The alerts and groups exactly as last saved (labels in their saved order)."""
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"SELECT {', '.join(rows.ALERT_COLUMNS)} FROM alerts")
            alerts = [rows.alert_of(r) for r in cur.fetchall()]
            cur.execute(f"SELECT {', '.join(rows.GROUP_COLUMNS)} FROM alert_groups")
            groups = [rows.group_of(r) for r in cur.fetchall()]
        return EngineState(alerts={a.fingerprint: a for a in alerts},
                           groups={(g.route, g.key): g for g in groups})

    def save_change(self, change: StateChange) -> None:
        """Apply ``change`` in one transaction: alerts and groups upserted, the removed
        ones deleted (a key both saved and removed ends up removed), notifications
        inserted as pending and due at their ``created_at``; an id already in the outbox
        keeps its row untouched."""
        if not change:
            return
        p = self.placeholder
        # executemany: SQLite steps one prepared statement; psycopg pipelines the rows,
        # so 10,000 alerts cost one round trip's latency, not 10,000.
        with self._db_lock, self._transaction() as cur:
            if change.alerts:
                cur.executemany(rows.upsert("alerts", rows.ALERT_COLUMNS, ("fingerprint",), p),
                                [rows.alert_row(a) for a in change.alerts])
            if change.removed_alerts:
                cur.executemany(f"DELETE FROM alerts WHERE fingerprint = {p}",
                                [(fp,) for fp in change.removed_alerts])
            if change.groups:
                cur.executemany(
                    rows.upsert("alert_groups", rows.GROUP_COLUMNS, ("route", "group_key"), p),
                    [rows.group_row(g) for g in change.groups])
            if change.removed_groups:
                cur.executemany(
                    f"DELETE FROM alert_groups WHERE route = {p} AND group_key = {p}",
                    [(route, key) for route, key in change.removed_groups])
            if change.notifications:
                cur.executemany(rows.insert_outbox(p),
                                [rows.outbox_row(n) for n in change.notifications])

    # -- silences -----------------------------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        """Store ``silence``; :class:`ValueError` if its id exists.  Silences that ended
        more than :data:`SILENCE_RETENTION_SECONDS` before its ``created_at`` are deleted
        in the same transaction (the table only grows here, so this bounds it)."""
        p = self.placeholder
        marks = ", ".join([p] * len(rows.SILENCE_COLUMNS))
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"INSERT INTO silences ({', '.join(rows.SILENCE_COLUMNS)}) "
                        f"VALUES ({marks}) ON CONFLICT (id) DO NOTHING",
                        rows.silence_row(silence))
            if cur.rowcount != 1:
                raise ValueError(f"a silence with id {silence.id} already exists")
            cur.execute(f"DELETE FROM silences WHERE ends_at < {p}",
                        (silence.created_at - SILENCE_RETENTION_SECONDS,))

    def expire_silence(self, silence_id: str, now: float) -> bool:
        """End the silence at ``now`` (one not started yet also starts at ``now``, so it
        never reads as ending before it began); False if unknown or already ended."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"UPDATE silences SET starts_at = CASE WHEN starts_at > {p} THEN {p} "
                        f"ELSE starts_at END, ends_at = {p} WHERE id = {p} AND ends_at > {p}",
                        (now, now, now, silence_id, now))
            return bool(cur.rowcount == 1)

    def silences(self, now: float, *, include_expired: bool = False) -> list[Silence]:
        """Silences active or still to come at ``now`` (with ``include_expired``, every
        one kept), newest ``created_at`` first."""
        sql = f"SELECT {', '.join(rows.SILENCE_COLUMNS)} FROM silences"
        params: list[Any] = []
        if not include_expired:
            sql += f" WHERE ends_at > {self.placeholder}"
            params.append(now)
        return [rows.silence_of(r)
                for r in self._query(sql + " ORDER BY created_at DESC, id DESC", params)]

    def prune_silences(self, now: float) -> int:
        """Delete silences that ended more than :data:`SILENCE_RETENTION_SECONDS` before
        ``now``; returns how many."""
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"DELETE FROM silences WHERE ends_at < {self.placeholder}",
                        (now - SILENCE_RETENTION_SECONDS,))
            return int(cur.rowcount)

    # -- the outbox ---------------------------------------------------------------------

    def due_notifications(self, now: float, limit: int = 100) -> list[OutboxEntry]:
        """Pending entries with ``next_attempt_at <= now``, by ``created_at`` then id,
        at most ``limit``."""
        sql, params = rows.due(now, limit, self.placeholder)
        return [rows.entry_of(r) for r in self._query(sql, params)]

    def pending_notifications(self, receiver: str | None = None) -> list[OutboxEntry]:
        """Every pending entry (of ``receiver``), due or not, by ``created_at`` then id."""
        sql, params = rows.pending(receiver, self.placeholder)
        return [rows.entry_of(r) for r in self._query(sql, params)]

    def outbox_counts(self) -> Mapping[str, int]:
        """Entries per state; every state is present, with 0 when it has none."""
        counts = dict.fromkeys(rows.OUTBOX_STATES, 0)
        for state, n in self._query("SELECT state, COUNT(*) FROM outbox GROUP BY state", []):
            counts[state] = int(n)
        return counts

    def record_attempt(self, notification_id: str, attempts: int, next_attempt_at: float,
                       error: str | None) -> None:
        """Set a pending entry's attempts and next try; ``error`` (when given) becomes its
        ``last_error``, None keeps the previous one.  Entries no longer pending (or
        unknown) are left alone."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"UPDATE outbox SET attempts = {p}, next_attempt_at = {p}, "
                        f"last_error = COALESCE({p}, last_error) "
                        f"WHERE id = {p} AND state = 'pending'",
                        (attempts, next_attempt_at, error, notification_id))

    def mark_delivered(self, notification_id: str, delivered_at: float,
                       receipt: Mapping[str, str]) -> None:
        """A pending entry was accepted: ``delivered``, with the provider's receipt."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"UPDATE outbox SET state = 'delivered', delivered_at = {p}, "
                        f"finished_at = {p}, receipt = {p} "
                        f"WHERE id = {p} AND state = 'pending'",
                        (delivered_at, delivered_at, rows.receipt_to_json(receipt),
                         notification_id))

    def mark_failed(self, notification_id: str, at: float, error: str) -> None:
        """A pending entry met a permanent error: ``failed``, never retried."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"UPDATE outbox SET state = 'failed', last_error = {p}, "
                        f"finished_at = {p} WHERE id = {p} AND state = 'pending'",
                        (error, at, notification_id))

    def prune_outbox(self, before: float) -> int:
        """Delete entries delivered or failed before ``before``, and the threads created
        before it whose episode is over (see :func:`.alert_rows.prune_threads`); returns
        the outbox entries deleted."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute("DELETE FROM outbox WHERE state IN ('delivered', 'failed') "
                        f"AND finished_at < {p}", (before,))
            removed = int(cur.rowcount)
            cur.execute(rows.prune_threads(p), (before,))
        return removed

    # -- threads ------------------------------------------------------------------------

    def thread(self, receiver: str, episode: str) -> Mapping[str, str] | None:
        """The receipt saved for ``(receiver, episode)``, or None."""
        p = self.placeholder
        found = self._query(f"SELECT receipt FROM threads WHERE receiver = {p} "
                            f"AND episode = {p}", [receiver, episode])
        return rows.receipt_from_json(found[0][0]) if found else None

    def save_thread(self, receiver: str, episode: str, receipt: Mapping[str, str]) -> None:
        """Remember ``receipt`` for ``(receiver, episode)``; saving again replaces the
        receipt (a new message that took the thread over) but keeps ``created_at``."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"INSERT INTO threads (receiver, episode, receipt, created_at) "
                        f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (receiver, episode) "
                        "DO UPDATE SET receipt = excluded.receipt",
                        (receiver, episode, rows.receipt_to_json(receipt), self._clock()))

    # -- the lease ----------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float, now: float) -> bool:
        """Take or renew the lease ``name`` until ``now + ttl_seconds``; True if
        ``holder`` holds it now.

        A row per lease, taken by one atomic upsert: the row is inserted if absent, or
        overwritten only if ``holder`` already holds it or it expired.  On PostgreSQL two
        replicas racing for a free lease serialise on the row (the loser's upsert waits
        for the winner's insert, then re-checks the condition against it and changes no
        row), so exactly one sees True; on SQLite the database lock serialises them.

        A PostgreSQL advisory lock was considered and not chosen: it does not exist on
        SQLite, it lives as long as one session (so it needs a connection pinned for the
        lease's life, which a pgbouncer in transaction mode does not give, and a
        reconnect after a network blip silently drops it), and a holder that hangs
        without dying keeps it forever.  A row lease instead passes on once its holder
        stops renewing for ``ttl_seconds``.  Holders compare their own ``now``: keep the
        ttl well above both the renewal interval and the replicas' clock skew.  A
        ``StoreDown`` here means "not known to hold it": stop acting as the holder.
        """
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"INSERT INTO leases (name, holder, expires_at) VALUES ({p}, {p}, {p}) "
                        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                        "expires_at = excluded.expires_at "
                        f"WHERE leases.holder = excluded.holder OR leases.expires_at <= {p}",
                        (name, holder, now + ttl_seconds, now))
            return bool(cur.rowcount == 1)

    def release_lease(self, name: str, holder: str) -> None:
        """Delete the lease if ``holder`` holds it (another replica may take it at once)."""
        p = self.placeholder
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"DELETE FROM leases WHERE name = {p} AND holder = {p}", (name, holder))
