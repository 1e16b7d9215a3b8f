"""The alert state machine: signals in, alert and group state plus notifications out.

Pure: ``now`` is passed in, nothing is read or written, nothing is logged.  One call of
:func:`step` is one evaluation tick; the store saves the :class:`StateChange` it returns
(with its notifications, in one transaction), and stepping on from the reloaded state
behaves exactly as if the process had never stopped.

Alertmanager's semantics throughout: ``pending`` -> ``firing`` -> ``resolved`` per
fingerprint, silences and inhibition mute, routes pick receivers, aggregation groups
time the notifications (:mod:`alerts.grouping`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from alerts.config import AlertsConfig, Receiver, Route
from alerts.grouping import flush, new_group, snapshot
from alerts.model import Alert, Group, Labels, Notification, Signal, Silence, fingerprint, labelset
from alerts.mutes import Mutes, Projections, mute_reasons
from alerts.routing import Router, group_labels, route_alert
from alerts.store import EngineState, StateChange

__all__ = ["StepMemo", "muted_by", "route_alert", "step", "test_notification"]

GroupId = tuple[str, str]  # (route name, group key)

ALERTMANAGER_ROUTE = "alertmanager"


@dataclasses.dataclass(slots=True)
class StepMemo:
    """What :func:`step` may keep from one tick to the next, owned by its caller: the
    router of the current configuration and broken receivers, with the placement of
    each alert, and each alert's projection onto the label names mutes read.  A step
    returns the same with or without it; with it, an alert that did not change is
    neither routed nor projected again (10,000 firing alerts, every few seconds)."""

    router: Router | None = None
    projections: Projections = dataclasses.field(default_factory=Projections)

    def router_for(self, config: AlertsConfig, broken: AbstractSet[str]) -> Router:
        r = self.router
        if r is None or r.config is not config or r.broken != broken:
            r = self.router = Router(config, frozenset(broken))
        return r


def step(state: EngineState, signals: Sequence[Signal], *, now: float,
         config: AlertsConfig, silences: Sequence[Silence] = (),
         broken: AbstractSet[str] = frozenset(),
         memo: StepMemo | None = None) -> tuple[EngineState, StateChange]:
    """One tick: ``signals`` are every alert condition the rules see now.

    Returns the new state and what changed since ``state``: the alerts and groups that
    differ, the ones removed, and the notifications to put in the outbox, each list in a
    deterministic order (fingerprints, then group ids, sorted; notifications by group,
    receivers in route order, Alertmanager's last).  ``broken`` names receivers whose
    delivery fails permanently (see :func:`route_alert`).  ``memo`` changes nothing but
    the cost (see :class:`StepMemo`).
    """
    advanced = _advance(state.alerts, state.groups, signals, now)
    alerts = advanced.alerts
    firing = [fp for fp, a in alerts.items() if a.status == "firing"]
    mutes = Mutes(alerts, firing, config.inhibit, silences, now,
                  None if memo is None else memo.projections)

    # Every firing alert, muted or not, is placed: while one fires a group lives on.
    router = Router(config, broken) if memo is None else memo.router_for(config, broken)
    router.bound(len(firing))
    placed: dict[GroupId, list[str]] = {}
    glabels: dict[GroupId, Labels] = {}
    for fp in firing:
        for gid, labels in router.placements(fp, alerts[fp].labels):
            members = placed.get(gid)
            if members is None:
                members = placed[gid] = []
                glabels[gid] = labels
            members.append(fp)

    routes = {r.name: r for r in (*config.routes, config.default_route)}
    groups: dict[GroupId, Group] = {}
    notifications: list[Notification] = []
    for gid in sorted(state.groups.keys() | placed.keys()):
        owner = routes.get(gid[0])
        if owner is None:
            continue  # its route left the config: nobody is left to tell
        members = placed.get(gid, [])
        group = state.groups.get(gid)
        if group is None:
            # Only a firing, unmuted alert opens a group.
            if not mutes.any_unmuted(members, owner.group_by):
                continue
            group = new_group(owner, gid[1], glabels[gid], now)
        if now >= group.next_flush_at:
            unmuted = frozenset(fp for fp in members if not mutes.muted(fp))
            group, notes = flush(group, owner, unmuted, alerts, now, broken)
            notifications.extend(notes)
        if members or group.notified:
            groups[gid] = group

    if config.alertmanager is not None:
        am = _alertmanager(config.alertmanager, alerts,
                           [fp for fp in advanced.became_firing if not mutes.muted(fp)],
                           advanced.became_resolved, now)
        if am is not None:
            notifications.append(am)

    # A resolved alert is kept only while a group still owes its resolution notice.
    resolved = [fp for fp, a in alerts.items() if a.status == "resolved"]
    if resolved:
        owed = _owed(groups.values())
        for fp in resolved:
            if fp in owed:
                continue
            held = advanced.held.get(fp)
            if held is None:
                del alerts[fp]
            else:
                alerts[fp] = _with_signal(None, fp, held, now)

    new_state = EngineState(alerts=alerts, groups=groups)
    return new_state, _diff(state, new_state, notifications)


def _owed(groups: Iterable[Group]) -> set[str]:
    """Fingerprints some group still owes a resolution notice (or notified as firing)."""
    return set().union(*(g.notified for g in groups))


def _advance(prev: Mapping[str, Alert], groups: Mapping[GroupId, Group],
             signals: Sequence[Signal], now: float) -> _Advanced:
    """Every alert after this tick's signals, resolved ones not yet pruned."""
    # A signal keeps its fingerprint once computed, and rules re-emit the same signal
    # objects while nothing changes: no label set is hashed again tick after tick.
    latest = {s.fingerprint: s for s in signals}  # the last one wins

    out = _Advanced()
    owed: set[str] | None = None
    for fp, s in latest.items():
        old = prev.get(fp)
        if old is not None and old.status == "resolved" and not s.firing:
            owed = _owed(groups.values()) if owed is None else owed
            if fp in owed:
                # Back below the threshold before its resolution was announced: a pending
                # incarnation now would be forgotten if it cleared, and the notice with
                # it.  It stays resolved until the notice is out, then turns pending.
                out.alerts[fp] = old
                out.held[fp] = s
                continue
        alert = out.alerts[fp] = _with_signal(old, fp, s, now)
        if alert.status == "firing" and (old is None or old.status != "firing"):
            out.became_firing.append(fp)
    for fp, old in prev.items():
        if fp in latest or old.status == "pending":
            continue  # a pending alert that clears was never heard of: forgotten
        if old.status == "firing":
            old = dataclasses.replace(old, status="resolved", resolved_at=now, updated_at=now)
            out.became_resolved.append(fp)
        out.alerts[fp] = old
    return out


@dataclasses.dataclass(slots=True)
class _Advanced:
    alerts: dict[str, Alert] = dataclasses.field(default_factory=dict)
    became_firing: list[str] = dataclasses.field(default_factory=list)
    became_resolved: list[str] = dataclasses.field(default_factory=list)
    # Resolved alerts whose signal is back, pending, while their notice is still owed.
    held: dict[str, Signal] = dataclasses.field(default_factory=dict)


def _with_signal(old: Alert | None, fp: str, s: Signal, now: float) -> Alert:
    if old is None or old.status == "resolved":  # a new alert, or a new incarnation
        return Alert(fingerprint=fp, labels=s.labels, annotations=s.annotations,
                     status="firing" if s.firing else "pending",
                     active_since=s.active_since or now, updated_at=now,
                     fired_at=now if s.firing else None)
    since = s.active_since or old.active_since
    if old.status == "pending" and s.firing:
        return dataclasses.replace(old, status="firing", fired_at=now, updated_at=now,
                                   annotations=s.annotations, active_since=since)
    # Firing stays firing whatever the signal says: resolving is the rule's call (it
    # stops signalling).  New context is stored, but is no news worth a notification.
    if old.annotations == s.annotations and old.active_since == since:
        return old
    return dataclasses.replace(old, annotations=s.annotations, active_since=since,
                               updated_at=now)


def _alertmanager(receiver: Receiver, alerts: Mapping[str, Alert], firing: Sequence[str],
                  resolved: Sequence[str], now: float) -> Notification | None:
    """This tick's news for Alertmanager, at once: it groups and de-duplicates itself."""
    if not firing and not resolved:
        return None
    listed = (*sorted((snapshot(alerts[fp]) for fp in firing), key=lambda s: s.labels),
              *sorted((snapshot(alerts[fp], resolved=True) for fp in resolved),
                      key=lambda s: s.labels))
    digest = hashlib.sha256(
        "".join(f"{s.fingerprint}{s.status[0]}" for s in listed).encode()).hexdigest()[:8]
    nid = f"{receiver.name}:{round(now * 1000)}:{digest}"
    return Notification(id=nid, receiver=receiver.name, route=ALERTMANAGER_ROUTE,
                        group_key=ALERTMANAGER_ROUTE, group_labels=(),
                        kind="firing" if firing else "resolved", created_at=now,
                        episode=nid, alerts=listed)


def _diff(old: EngineState, new: EngineState,
          notifications: list[Notification]) -> StateChange:
    # Most alerts are the very objects of the last tick: compare, then sort the few left.
    changed_alerts = sorted((a for fp, a in new.alerts.items()
                             if (was := old.alerts.get(fp)) is not a and was != a),
                            key=lambda a: a.fingerprint)
    changed_groups = sorted((g for gid, g in new.groups.items()
                             if (prior := old.groups.get(gid)) is not g and prior != g),
                            key=lambda g: (g.route, g.key))
    return StateChange(
        alerts=changed_alerts,
        removed_alerts=sorted(old.alerts.keys() - new.alerts.keys()),
        groups=changed_groups,
        removed_groups=sorted(old.groups.keys() - new.groups.keys()),
        notifications=notifications)


def muted_by(state: EngineState, config: AlertsConfig, silences: Sequence[Silence],
             now: float) -> dict[str, tuple[str, ...]]:
    """Why each muted alert of ``state`` is muted: fingerprint -> the ids of the active
    silences muting it, then ``inhibited:<source fingerprint>`` for each firing alert
    inhibiting it.  Alerts that are not muted are left out."""
    return mute_reasons(state.alerts, config.inhibit, silences, now)


TEST_ALERTNAME = "OmniwatchTest"


def test_notification(config: AlertsConfig, route: Route, receiver: Receiver,
                      now: float) -> Notification:
    """A synthetic notification for ``omniwatch alerts test --route NAME``: one firing
    alert ``{alertname=OmniwatchTest, route=NAME, severity=info}``, kind ``test``, sent
    through the real outbox and provider of ``receiver``.  Its id is new every call
    (millisecond time), so two tests never collapse into one outbox entry.  ``config``
    is taken so that config-wide settings can shape it without a new signature."""
    labels: Labels = labelset({"alertname": TEST_ALERTNAME, "route": route.name,
                               "severity": "info"})
    alert = Alert(fingerprint=fingerprint(labels), labels=labels,
                  annotations=(("summary", f"Test notification for route {route.name}"),),
                  status="firing", active_since=now, updated_at=now, fired_at=now)
    nid = f"{receiver.name}:test:{round(now * 1000)}"
    return Notification(id=nid, receiver=receiver.name, route=route.name,
                        group_key=f"{route.name}:test", group_labels=group_labels(
                            route, dict(labels)), kind="test", created_at=now,
                        episode=nid, alerts=(snapshot(alert),))
