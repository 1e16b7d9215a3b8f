"""The alert data every part shares: label sets, alerts, groups, silences, notifications.

All frozen and plain, so the state machine (:mod:`alerts.engine`) stays a pure function
and the store can persist any of it as JSON (:func:`notification_to_json` and friends).
Times are Unix seconds (``float``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from alerts.config import Matcher

Labels = tuple[tuple[str, str], ...]  # sorted by name: hashable, and one spelling per set
AlertStatus = Literal["pending", "firing", "resolved"]
NotificationKind = Literal["firing", "update", "reminder", "resolved", "test"]

ALERT_STATUSES: Final[tuple[AlertStatus, ...]] = ("pending", "firing", "resolved")


def labelset(labels: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """``labels`` as a sorted tuple of pairs, empty values dropped (as Prometheus does)."""
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted((k, v) for k, v in items if v != ""))


def label_value(labels: Labels, name: str, default: str = "") -> str:
    """The value of label ``name`` in ``labels``, or ``default``."""
    for k, v in labels:
        if k == name:
            return v
    return default


def fingerprint(labels: Labels) -> str:
    """A stable 16-hex-digit identity of a label set (the same set, the same alert)."""
    h = hashlib.sha256()
    for k, v in labels:
        h.update(k.encode())
        h.update(b"\xff")
        h.update(v.encode())
        h.update(b"\xff")
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Signal:
    """What a rule says now about one alert: its labels, context, and whether its
    threshold is met (``firing``) or only approached (pending).

    ``active_since`` is when the condition began (the first failure of a target that is
    down), so "since when" in a message is the outage's start, not the alert's.
    """

    labels: Labels
    annotations: Labels = ()
    firing: bool = True
    active_since: float = 0.0
    # fingerprint(labels), computed on first use and kept (or given by a rule that knows
    # it): 10,000 down targets re-signalled every tick must not be hashed every tick.
    # Not an init field, so dataclasses.replace(labels=...) never carries a stale one.
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def known(cls, fp: str, labels: Labels, annotations: Labels = (), *,
              firing: bool = True, active_since: float = 0.0) -> Signal:
        """A signal whose fingerprint the caller already knows: ``fp`` must be
        ``fingerprint(labels)`` (it is not checked)."""
        s = cls(labels, annotations, firing, active_since)
        object.__setattr__(s, "_fingerprint", fp)  # a cache, not a new value
        return s

    @property
    def fingerprint(self) -> str:
        fp = self._fingerprint
        if fp is None:
            fp = fingerprint(self.labels)
            object.__setattr__(self, "_fingerprint", fp)  # a cache, not a new value
        return fp

    def label(self, name: str, default: str = "") -> str:
        return label_value(self.labels, name, default)


@dataclass(frozen=True, slots=True)
class Alert:
    """The stored state of one alert, keyed by :attr:`fingerprint`.

    ``pending`` → ``firing`` → ``resolved``; a pending alert whose condition clears is
    forgotten (it was never firing, so nobody hears of it).  ``fired_at`` is when it
    started firing; ``resolved_at`` when its condition cleared after that.
    """

    fingerprint: str
    labels: Labels
    annotations: Labels
    status: AlertStatus
    active_since: float
    updated_at: float
    fired_at: float | None = None
    resolved_at: float | None = None

    def label(self, name: str, default: str = "") -> str:
        return label_value(self.labels, name, default)


@dataclass(frozen=True, slots=True)
class Group:
    """One aggregation group of one route (Alertmanager's semantics).

    ``key`` is built from the route and the values of its ``group_by`` labels.
    ``notified`` holds the fingerprints last notified as firing; ``episode`` names
    the current run of firing alerts (``GROUPHASH:SEQ`` of the flush that opened it,
    shared by every receiver: a Slack message whose thread carries the reminders and
    changes), ``None`` while none is open.
    ``seq`` numbers this group's notifications, so ids are stable and ordered.
    """

    route: str
    key: str
    labels: Labels
    created_at: float
    next_flush_at: float
    last_notified_at: float | None = None
    notified: frozenset[str] = frozenset()
    episode: str | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes every alert whose labels satisfy all ``matchers`` during [starts_at, ends_at)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    author: str
    reason: str
    created_at: float

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active(now) and all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """One alert as a notification carries it (what the message says about it).

    ``new`` marks a firing alert that the group's previous notification did not list
    (an update's "newly firing"); False when unknown, so a message then just lists it.
    """

    fingerprint: str
    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels
    starts_at: float
    ends_at: float | None = None
    new: bool = False


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one receiver: what the outbox stores and a provider sends.

    ``id`` is stable (``RECEIVER:GROUPKEY-HASH:SEQ``): the outbox key, and the
    ``metadata`` a Slack post carries so a crash between post and commit can be
    recovered without a second post.  ``episode`` names the run of firing alerts
    this notification belongs to (the group's :attr:`Group.episode`); the receiver's
    first notification of an episode opens its thread.  ``alerts`` lists the
    group's firing alerts and the ones resolved since the last notification; providers
    summarise long lists themselves.
    """

    id: str
    receiver: str
    route: str
    group_key: str
    group_labels: Labels
    kind: NotificationKind
    created_at: float
    episode: str
    alerts: tuple[AlertSnapshot, ...] = ()

    @property
    def firing(self) -> tuple[AlertSnapshot, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[AlertSnapshot, ...]:
        return tuple(a for a in self.alerts if a.status == "resolved")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A stored notification and its delivery state.

    ``state``: ``pending`` (not yet accepted), ``delivered``, ``failed`` (a permanent
    error: never retried).  ``attempts`` counts sends started; one started but never
    recorded (a crash) is why a provider may first look for an earlier delivery.
    ``receipt`` is what the provider answered (Slack's channel id and ``ts``).
    """

    notification: Notification
    state: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None
    delivered_at: float | None = None
    receipt: Mapping[str, str] = field(default_factory=dict)


# --- JSON: the store keeps notifications and silences as documents ------------------


def _snapshot_doc(a: AlertSnapshot) -> dict[str, Any]:
    doc = {"fingerprint": a.fingerprint, "status": a.status, "labels": dict(a.labels),
           "annotations": dict(a.annotations), "starts_at": a.starts_at,
           "ends_at": a.ends_at}
    if a.new:  # written only when set: documents stored before the flag read the same
        doc["new"] = True
    return doc


def notification_to_json(n: Notification) -> str:
    """``n`` as one JSON document (the outbox row's payload)."""
    return json.dumps({
        "id": n.id, "receiver": n.receiver, "route": n.route, "group_key": n.group_key,
        "group_labels": dict(n.group_labels), "kind": n.kind, "created_at": n.created_at,
        "episode": n.episode, "alerts": [_snapshot_doc(a) for a in n.alerts],
    }, separators=(",", ":"), sort_keys=True)


def notification_from_json(text: str) -> Notification:
    """The inverse of :func:`notification_to_json`."""
    d = json.loads(text)
    return Notification(
        id=d["id"], receiver=d["receiver"], route=d["route"], group_key=d["group_key"],
        group_labels=labelset(d["group_labels"]), kind=d["kind"],
        created_at=float(d["created_at"]), episode=d["episode"],
        alerts=tuple(AlertSnapshot(
            fingerprint=a["fingerprint"], status=a["status"], labels=labelset(a["labels"]),
            annotations=labelset(a["annotations"]), starts_at=float(a["starts_at"]),
            ends_at=None if a["ends_at"] is None else float(a["ends_at"]),
            new=bool(a.get("new", False)))
            for a in d["alerts"]))


def matchers_to_json(matchers: Iterable[Matcher]) -> str:
    return json.dumps([{"name": m.name, "op": m.op, "value": m.value} for m in matchers],
                      separators=(",", ":"))


def matchers_from_json(text: str) -> tuple[Matcher, ...]:
    return tuple(Matcher(d["name"], d["op"], d["value"]) for d in json.loads(text))
