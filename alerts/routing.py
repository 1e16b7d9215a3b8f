"""Which routes take an alert, and which aggregation group of each route it joins.

Pure and cheap: a route decision reads only the label names the routes mention, so
:class:`Router` remembers one decision per distinct projection of a label set onto those
names (10,000 targets of one channel share one decision).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Final, NamedTuple

from alerts.config import AlertsConfig, Receiver, Route
from alerts.model import Labels

# The self-health alert about failing delivery: it must not be queued only for the
# receivers it reports broken, or nobody would ever hear of it.
NOTIFICATIONS_FAILING: Final = "NotificationsFailing"


def route_alert(labels: Labels, config: AlertsConfig,
                broken: AbstractSet[str] = frozenset()) -> tuple[Route, ...]:
    """The routes that take an alert with ``labels``, in config order.

    Routes are tried in order; a route takes the alert when all its matchers match, and
    the search stops at the first taker unless it says ``continue``.  No taker: the
    default route.  For ``alertname=NotificationsFailing`` only, receivers named in
    ``broken`` are left out of the returned routes; when that leaves none at all, every
    route that still has a working receiver is returned (the default route included),
    each with only its working receivers, so that the alert is heard somewhere.
    """
    d = dict(labels)
    taken = _match(d, config)
    if not broken or d.get("alertname") != NOTIFICATIONS_FAILING:
        return taken
    return _avoid_broken(taken, config, broken)


def _match(labels: Mapping[str, str], config: AlertsConfig) -> tuple[Route, ...]:
    taken: list[Route] = []
    for route in config.routes:
        if all(m.matches(labels) for m in route.matchers):
            taken.append(route)
            if not route.continue_:
                break
    return tuple(taken) if taken else (config.default_route,)


def _avoid_broken(taken: tuple[Route, ...], config: AlertsConfig,
                  broken: AbstractSet[str]) -> tuple[Route, ...]:
    working = tuple(_without(r, broken) for r in taken)
    had_any = any(r.receivers for r in taken)
    if not had_any or any(r.receivers for r in working):
        # A route without receivers by configuration is a deliberate silence: respected.
        return working
    fallback = (_without(r, broken) for r in (*config.routes, config.default_route))
    return tuple(r for r in fallback if r.receivers) or working


def _without(route: Route, broken: AbstractSet[str]) -> Route:
    kept = tuple(r for r in route.receivers if r.name not in broken)
    return route if len(kept) == len(route.receivers) else dataclasses.replace(
        route, receivers=kept)


def receivers_for(route: Route, broken: AbstractSet[str], *,
                  self_health: bool) -> tuple[Receiver, ...]:
    """The receivers one flush of ``route`` notifies: all of them, except that a flush
    carrying a NotificationsFailing alert (``self_health``) skips ``broken`` ones."""
    if not self_health or not broken:
        return route.receivers
    return tuple(r for r in route.receivers if r.name not in broken)


def group_labels(route: Route, labels: Mapping[str, str]) -> Labels:
    """The values of ``route.group_by`` on ``labels`` (absent labels left out)."""
    return tuple(sorted((k, labels[k]) for k in set(route.group_by) if labels.get(k)))


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """A stable, readable key: ``ROUTE:{alertname="TargetDown",channel="branch"}``.

    Built from the route name and every ``group_by`` label in its configured order, an
    absent label as the empty string, values JSON-quoted so no value can forge another.
    """
    inner = ",".join(f"{k}={json.dumps(labels.get(k, ''), ensure_ascii=False)}"
                     for k in route.group_by)
    return f"{route.name}:{{{inner}}}"


def group_hash(key: str, created_at: float) -> str:
    """The id stem of one incarnation of a group.

    The creation time is part of it because a group that empties is removed and may be
    created again later with ``seq`` starting over; its notification ids must not repeat
    ids an outbox may still hold from the earlier incarnation.
    """
    return hashlib.sha256(f"{key}\x00{created_at!r}".encode()).hexdigest()[:16]


@dataclasses.dataclass(slots=True)
class Router:
    """Routing under one config and one set of ``broken`` receivers: :func:`route_alert`
    plus the group id and labels of each taking route, remembered per projection of the
    label set onto the label names that decide them (and per alert, see
    :meth:`placements`).  Build a new one when the config or ``broken`` change."""

    config: AlertsConfig
    broken: AbstractSet[str] = frozenset()
    _names: frozenset[str] = dataclasses.field(init=False, default=frozenset())
    _memo: dict[Labels, tuple[Placement, ...]] = dataclasses.field(init=False,
                                                                   default_factory=dict)
    # By fingerprint, with the label set placed: a router kept across ticks (same
    # config, same broken receivers) places an unchanged alert with one look-up.
    _by_fp: dict[str, tuple[Labels, tuple[Placement, ...]]] = dataclasses.field(
        init=False, default_factory=dict)

    def __post_init__(self) -> None:
        names = {"alertname"}
        for route in (*self.config.routes, self.config.default_route):
            names.update(m.name for m in route.matchers)
            names.update(route.group_by)
        self._names = frozenset(names)

    def groups(self, labels: Labels) -> tuple[Placement, ...]:
        """A :class:`Placement` for every route that takes ``labels``, in route order."""
        names = self._names
        projection = tuple([p for p in labels if p[0] in names])  # a list: faster here
        hit = self._memo.get(projection)
        if hit is None:
            d = dict(projection)
            taken = _match(d, self.config)
            if self.broken and d.get("alertname") == NOTIFICATIONS_FAILING:
                taken = _avoid_broken(taken, self.config, self.broken)
            hit = tuple(Placement((r.name, group_key(r, d)), group_labels(r, d))
                        for r in taken)
            self._memo[projection] = hit
        return hit

    def placements(self, fp: str, labels: Labels) -> tuple[Placement, ...]:
        """:meth:`groups` of the alert ``fp`` with ``labels``, remembered per alert."""
        hit = self._by_fp.get(fp)
        if hit is not None and hit[0] is labels:
            return hit[1]
        placed = self.groups(labels)
        self._by_fp[fp] = (labels, placed)
        return placed

    def bound(self, alerts: int) -> None:
        """Forget per-alert placements once they are mostly of alerts that are gone."""
        if len(self._by_fp) > 2 * alerts + 100:
            self._by_fp.clear()


class Placement(NamedTuple):
    """Where a route puts an alert: the group's id ``(route name, key)`` and labels."""

    group: tuple[str, str]
    labels: Labels
