"""Builders for the engine tests: configs, signals, and a driver that steps the pure
state machine the way the runtime does (apply each change, keep the notifications)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet

from alerts.config import (
    AlertmanagerSettings,
    AlertsConfig,
    InhibitRule,
    Matcher,
    Receiver,
    Route,
    SlackSettings,
    Timing,
    parse_matcher,
)
from alerts.engine import step
from alerts.model import Alert, Group, Notification, Signal, Silence, fingerprint, labelset
from alerts.store import EngineState, StateChange

TIMING = Timing(group_wait_seconds=30.0, group_interval_seconds=300.0,
                repeat_interval_seconds=3600.0)


def receiver(route: str, kind: str = "slack") -> Receiver:
    settings = SlackSettings(token="xoxb-test", channel=f"#{route}")
    return Receiver(name=f"{route}/{kind}", route=route, kind="slack", settings=settings)


def route(name: str, *matchers: str, receivers: Sequence[Receiver] | None = None,
          continue_: bool = False, group_by: tuple[str, ...] = ("alertname", "channel"),
          timing: Timing = TIMING) -> Route:
    return Route(name=name, matchers=tuple(parse_matcher(m) for m in matchers),
                 receivers=(receiver(name),) if receivers is None else tuple(receivers),
                 continue_=continue_, group_by=group_by, timing=timing)


def config(*routes: Route, default: Route | None = None, alertmanager: bool = False,
           inhibit: Sequence[InhibitRule] | None = None) -> AlertsConfig:
    am = Receiver(name="alertmanager", route="alertmanager", kind="alertmanager",
                  settings=AlertmanagerSettings(url="http://127.0.0.1:9093"))
    base = AlertsConfig(routes=tuple(routes),
                        default_route=default or route("default"),
                        alertmanager=am if alertmanager else None)
    return base if inhibit is None else dataclasses.replace(base, inhibit=tuple(inhibit))


def signal(alertname: str = "TargetDown", *, firing: bool = True, since: float = 0.0,
           annotations: dict[str, str] | None = None, **labels: str) -> Signal:
    return Signal(labels=labelset({"alertname": alertname, **labels}),
                  annotations=labelset(annotations or {}), firing=firing,
                  active_since=since)


def target(name: str, channel: str = "branch", *, firing: bool = True, since: float = 0.0,
           annotations: dict[str, str] | None = None, **labels: str) -> Signal:
    """A TargetDown signal for target ``name`` of ``channel``."""
    return signal("TargetDown", firing=firing, since=since, annotations=annotations,
                  channel=channel, target=name, **labels)


def fp(s: Signal) -> str:
    return fingerprint(s.labels)


def silence(*matchers: str, starts: float = 0.0, ends: float = 1e12,
            sid: str = "s1") -> Silence:
    return Silence(id=sid, matchers=tuple(parse_matcher(m) for m in matchers),
                   starts_at=starts, ends_at=ends, author="tester", reason="test",
                   created_at=starts)


def inhibit_rule(source: Iterable[str], target: Iterable[str],
                 equal: Sequence[str] = ()) -> InhibitRule:
    return InhibitRule(source=tuple(parse_matcher(m) for m in source),
                       target=tuple(parse_matcher(m) for m in target), equal=tuple(equal))


def apply(state: EngineState, change: StateChange) -> EngineState:
    """What a store holds after saving ``change`` over ``state``, rebuilt from scratch
    as a load would (fresh objects, nothing shared with the engine's output)."""
    alerts: dict[str, Alert] = dict(state.alerts)
    for fp_ in change.removed_alerts:
        del alerts[fp_]
    for a in change.alerts:
        alerts[a.fingerprint] = a
    groups: dict[tuple[str, str], Group] = dict(state.groups)
    for gid in change.removed_groups:
        del groups[gid]
    for g in change.groups:
        groups[(g.route, g.key)] = g
    return EngineState(
        alerts={k: dataclasses.replace(a, labels=tuple(a.labels)) for k, a in alerts.items()},
        groups={k: dataclasses.replace(g, notified=frozenset(sorted(g.notified)))
                for k, g in groups.items()})


@dataclasses.dataclass
class Driver:
    """Steps the engine over time, applying each change as the store would."""

    config: AlertsConfig
    state: EngineState = dataclasses.field(default_factory=EngineState)
    silences: Sequence[Silence] = ()
    broken: AbstractSet[str] = frozenset()
    sent: list[Notification] = dataclasses.field(default_factory=list)
    last: StateChange = dataclasses.field(default_factory=StateChange)

    def tick(self, now: float, *signals: Signal) -> list[Notification]:
        """One tick at ``now``; returns its notifications."""
        new, change = step(self.state, signals, now=now, config=self.config,
                           silences=self.silences, broken=self.broken)
        assert apply(self.state, change) == new, "the change does not rebuild the state"
        self.state, self.last = new, change
        self.sent.extend(change.notifications)
        return list(change.notifications)

    def alert(self, s: Signal) -> Alert | None:
        return self.state.alerts.get(fp(s))

    def group(self, route_name: str = "default") -> Group:
        found = [g for (r, _), g in self.state.groups.items() if r == route_name]
        assert len(found) == 1, found
        return found[0]


def names(n: Notification) -> list[tuple[str, str]]:
    """``(status, target)`` of each alert a notification lists, in its order."""
    return [(a.status, dict(a.labels).get("target", dict(a.labels)["alertname"]))
            for a in n.alerts]


__all__ = ["TIMING", "Driver", "Matcher", "apply", "config", "fp", "inhibit_rule", "names",
           "receiver", "route", "signal", "silence", "target"]
