"""The SQL of alerting's tables and how their rows become values.  Pure: text in, text out.

Every function that builds a statement takes ``p``, the driver's placeholder (``?`` for
SQLite, ``%s`` for psycopg); :class:`~.alert_store.AlertStoreMixin` runs them.  Label
sets are stored as JSON lists of ``[name, value]`` pairs in their given order, so a row
read back is exactly the tuple that was written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from alerts.model import (
    Alert,
    Group,
    Labels,
    Notification,
    OutboxEntry,
    Silence,
    matchers_from_json,
    matchers_to_json,
    notification_from_json,
    notification_to_json,
)

ALERT_COLUMNS: Final = ("fingerprint", "labels", "annotations", "status", "active_since",
                        "updated_at", "fired_at", "resolved_at")
GROUP_COLUMNS: Final = ("route", "group_key", "labels", "created_at", "next_flush_at",
                        "last_notified_at", "notified", "episode", "seq")
SILENCE_COLUMNS: Final = ("id", "matchers", "starts_at", "ends_at", "author", "reason",
                          "created_at")
# What an OutboxEntry is read from, in this order (see entry_of).
ENTRY_COLUMNS: Final = ("payload", "state", "attempts", "next_attempt_at", "last_error",
                        "delivered_at", "receipt")
OUTBOX_STATES: Final = ("pending", "delivered", "failed")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def labels_to_json(labels: Labels) -> str:
    """``labels`` as a JSON list of pairs, in their order."""
    return _compact([[k, v] for k, v in labels])


def labels_from_json(text: str) -> Labels:
    """The inverse of :func:`labels_to_json`."""
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def receipt_to_json(receipt: Mapping[str, str]) -> str:
    return _compact(dict(receipt))


def receipt_from_json(text: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(text).items()}


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def upsert(table: str, columns: Sequence[str], key: Sequence[str], p: str) -> str:
    """Insert a row of ``columns`` into ``table``, or overwrite the one with its ``key``."""
    marks = ", ".join([p] * len(columns))
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}")


# --- alerts and groups ---------------------------------------------------------------


def alert_row(a: Alert) -> tuple[Any, ...]:
    return (a.fingerprint, labels_to_json(a.labels), labels_to_json(a.annotations), a.status,
            a.active_since, a.updated_at, a.fired_at, a.resolved_at)


def alert_of(row: Sequence[Any]) -> Alert:
    fp, labels, annotations, status, active_since, updated_at, fired_at, resolved_at = row
    return Alert(fingerprint=fp, labels=labels_from_json(labels),
                 annotations=labels_from_json(annotations), status=status,
                 active_since=float(active_since), updated_at=float(updated_at),
                 fired_at=_opt(fired_at), resolved_at=_opt(resolved_at))


def group_row(g: Group) -> tuple[Any, ...]:
    return (g.route, g.key, labels_to_json(g.labels), g.created_at, g.next_flush_at,
            g.last_notified_at, _compact(sorted(g.notified)), g.episode, g.seq)


def group_of(row: Sequence[Any]) -> Group:
    route, key, labels, created_at, next_flush_at, last_notified_at, notified, episode, seq = row
    return Group(route=route, key=key, labels=labels_from_json(labels),
                 created_at=float(created_at), next_flush_at=float(next_flush_at),
                 last_notified_at=_opt(last_notified_at),
                 notified=frozenset(str(f) for f in json.loads(notified)), episode=episode,
                 seq=int(seq))


# --- silences --------------------------------------------------------------------------


def silence_row(s: Silence) -> tuple[Any, ...]:
    return (s.id, matchers_to_json(s.matchers), s.starts_at, s.ends_at, s.author, s.reason,
            s.created_at)


def silence_of(row: Sequence[Any]) -> Silence:
    sid, matchers, starts_at, ends_at, author, reason, created_at = row
    return Silence(id=sid, matchers=matchers_from_json(matchers), starts_at=float(starts_at),
                   ends_at=float(ends_at), author=author, reason=reason,
                   created_at=float(created_at))


# --- the outbox ------------------------------------------------------------------------


def insert_outbox(p: str) -> str:
    """A new pending entry, due at once; an id already stored is left exactly as it is,
    so a tick that runs again after a crash never queues a second send."""
    return ("INSERT INTO outbox (id, receiver, episode, created_at, payload, state, attempts, "
            f"next_attempt_at, receipt) VALUES ({p}, {p}, {p}, {p}, {p}, 'pending', 0, {p}, "
            "'{}') ON CONFLICT (id) DO NOTHING")


def outbox_row(n: Notification) -> tuple[Any, ...]:
    """The parameters of :func:`insert_outbox` for ``n``."""
    return (n.id, n.receiver, n.episode, n.created_at, notification_to_json(n), n.created_at)


def entry_of(row: Sequence[Any]) -> OutboxEntry:
    payload, state, attempts, next_attempt_at, last_error, delivered_at, receipt = row
    return OutboxEntry(notification=notification_from_json(payload), state=state,
                       attempts=int(attempts), next_attempt_at=float(next_attempt_at),
                       last_error=last_error, delivered_at=_opt(delivered_at),
                       receipt=receipt_from_json(receipt))


def pending(receiver: str | None, p: str) -> tuple[str, list[Any]]:
    """Every pending entry (of ``receiver``), oldest first."""
    sql = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM outbox WHERE state = 'pending'"
    params: list[Any] = []
    if receiver is not None:
        sql += f" AND receiver = {p}"
        params.append(receiver)
    return sql + " ORDER BY created_at, id", params


def due(now: float, limit: int, p: str) -> tuple[str, list[Any]]:
    """Pending entries due at ``now``, oldest first, at most ``limit``."""
    return (f"SELECT {', '.join(ENTRY_COLUMNS)} FROM outbox "
            f"WHERE state = 'pending' AND next_attempt_at <= {p} "
            f"ORDER BY created_at, id LIMIT {p}", [now, limit])


def prune_threads(p: str) -> str:
    """Threads created before the parameter whose episode is over: no pending entry
    still needs the thread, and no group still runs that episode (a group firing for
    weeks keeps its thread for its reminders)."""
    return (f"DELETE FROM threads WHERE created_at < {p} "
            "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.receiver = threads.receiver "
            "AND o.episode = threads.episode AND o.state = 'pending') "
            "AND NOT EXISTS (SELECT 1 FROM alert_groups g WHERE g.episode = threads.episode)")
