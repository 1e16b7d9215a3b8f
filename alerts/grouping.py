"""Aggregation groups: when a group notifies, of what kind, and with which alerts.

Alertmanager's semantics (``dispatch/dispatch.go``, ``notify/notify.go`` DedupStage): a
new group waits ``group_wait`` before its first notification, then looks again every
``group_interval``; it notifies when alerts joined or resolved since the last
notification, and otherwise re-notifies after ``repeat_interval`` while something fires.
Unlike Alertmanager, a notified alert that is later muted stays in ``notified``, so its
resolution is still announced (no orphaned pages).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from collections.abc import Set as AbstractSet

from alerts.config import Route
from alerts.model import Alert, AlertSnapshot, Group, Labels, Notification, NotificationKind
from alerts.routing import NOTIFICATIONS_FAILING, group_hash, receivers_for


def new_group(route: Route, key: str, labels: Labels, now: float) -> Group:
    """A group created by its first firing, unmuted alert: it first flushes after
    ``group_wait``."""
    return Group(route=route.name, key=key, labels=labels, created_at=now,
                 next_flush_at=now + route.timing.group_wait_seconds)


def _kind(group: Group, firing_now: AbstractSet[str], resolved_now: AbstractSet[str],
          now: float, repeat_seconds: float) -> NotificationKind | None:
    if group.episode is None:
        return "firing" if firing_now else None
    if resolved_now or not firing_now <= group.notified:
        return "update" if firing_now else "resolved"
    last = group.last_notified_at if group.last_notified_at is not None else group.created_at
    if firing_now and now - last >= repeat_seconds:
        return "reminder"
    return None


def snapshot(alert: Alert, *, resolved: bool = False, new: bool = False) -> AlertSnapshot:
    """How a notification shows ``alert``: firing, or (``resolved``) resolved.

    ``starts_at`` is when the condition began, as messages say "since"; a resolved
    one ends at ``resolved_at`` (``updated_at`` for one no longer firing that never
    resolved, which the engine does not produce but a hand-edited store might).
    """
    if not resolved:
        return AlertSnapshot(alert.fingerprint, "firing", alert.labels, alert.annotations,
                             starts_at=alert.active_since, new=new)
    ends = alert.resolved_at if alert.resolved_at is not None else alert.updated_at
    return AlertSnapshot(alert.fingerprint, "resolved", alert.labels, alert.annotations,
                         starts_at=alert.active_since, ends_at=ends)


def _self_health(snapshots: Collection[AlertSnapshot]) -> bool:
    return any(("alertname", NOTIFICATIONS_FAILING) in s.labels for s in snapshots)


def flush(group: Group, route: Route, firing_now: AbstractSet[str],
          alerts: Mapping[str, Alert], now: float,
          broken: AbstractSet[str]) -> tuple[Group, list[Notification]]:
    """Flush a due group: the group as it is afterwards, and its notifications (one per
    receiver, sharing the episode; none for a route without receivers, whose group
    still keeps its books as if it had sent).

    ``firing_now`` holds the firing, unmuted alerts routed here.  Resolved now are the
    notified alerts that are no longer firing; a notified alert still firing but muted
    is neither, and stays notified until it resolves.  The episode closes once nothing
    notified is left.
    """
    resolved_now = frozenset(fp for fp in group.notified
                             if (a := alerts.get(fp)) is None or a.status != "firing")
    kind = _kind(group, firing_now, resolved_now, now, route.timing.repeat_interval_seconds)
    notified = (group.notified - resolved_now) | firing_now
    after = dataclasses.replace(
        group, next_flush_at=now + route.timing.group_interval_seconds, notified=notified)
    if kind is None:
        if not notified:
            after = dataclasses.replace(after, episode=None)
        return after, []
    seq = group.seq + 1
    stem = group_hash(group.key, group.created_at)
    episode = f"{stem}:{seq}" if kind == "firing" else group.episode
    assert episode is not None  # every kind but "firing" continues an open episode
    # An update's reply says what is newly firing: not yet notified in this episode.
    listed = (*sorted((snapshot(alerts[fp], new=kind == "update" and fp not in group.notified)
                       for fp in firing_now), key=lambda s: s.labels),
              *sorted((snapshot(a, resolved=True) for fp in resolved_now
                       if (a := alerts.get(fp)) is not None), key=lambda s: s.labels))
    receivers = receivers_for(route, broken, self_health=bool(broken) and _self_health(listed))
    notes = [Notification(id=f"{r.name}:{stem}:{seq}", receiver=r.name, route=route.name,
                          group_key=group.key, group_labels=group.labels, kind=kind,
                          created_at=now, episode=episode, alerts=listed)
             for r in receivers]
    after = dataclasses.replace(after, seq=seq, last_notified_at=now,
                                episode=episode if notified else None)
    return after, notes
