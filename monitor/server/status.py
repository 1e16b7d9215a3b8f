"""The status snapshot of a running monitor, shared by ``/api/v1/status`` and the page.

:class:`StatusService` builds one :class:`~monitor.server.status_model.StatusSnapshot`
at a time and keeps it for :data:`MAX_AGE_SECONDS`: requests arriving while one is built
share it, as ``/metrics`` scrapes share a rendering, so 10,000 targets cost one build a
second however many clients ask; only the request that starts a build waits for it, the
others meanwhile get the previous snapshot.  The in-memory state is copied on the event loop (where
it changes); everything else, the store reads, the pure building and the JSON encoding,
runs in a worker thread so the loop keeps serving.

A store that cannot be read never makes a 500: the parts that need it (availability,
uptime bars, alerts, incidents, journey percentiles) are None and ``store`` says why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

from alerts.store import AlertStore
from alerts.views import current_alerts
from monitor import __version__
from monitor.config.model import Config
from monitor.consistency.model import ConsistencyReport
from monitor.metrics.state import TargetState
from monitor.runtime.monitor import Monitor
from monitor.server import status_build as build
from monitor.server.scrape import Rendering, SingleFlight
from monitor.server.status_model import (
    ChannelStatus,
    IncidentLine,
    JourneyObjective,
    JourneyStatus,
    Objectives,
    StatusSnapshot,
    StoreStatus,
    TargetLine,
    status_dict,
)
from monitor.server.uptime import Uptime, history_start, uptime
from monitor.slo.bindings import evaluate_all, exclusions, slo_bindings
from monitor.slo.budget import SloStatus, duration_label
from monitor.slo.exclusions import in_service_hours
from monitor.slo.flowtime import merge, met, percentile_label
from monitor.store import ProbeStore, StoreDown
from probes.result import ProbeResult

MAX_AGE_SECONDS: Final = 1.0
# Beyond this a snapshot is not served even while its successor is being built (a store
# that hangs makes readers wait for it, and see the store's error, rather than old news).
MAX_STALE_SECONDS: Final = 10.0
INCIDENT_DAYS: Final = 7
# The snapshot lists the newest incidents only; /api/v1/incidents pages through all.
MAX_INCIDENTS: Final = 200
FLOW_WINDOW_SECONDS: Final = 7 * 86400.0

__all__ = ["MAX_AGE_SECONDS", "StatusService", "StatusView", "status_dict"]


@dataclass(frozen=True, slots=True)
class Gathered:
    """What the loop hands the worker thread: copies, or values nobody mutates."""

    now: float
    config: Config
    states: Mapping[str, TargetState]
    latest: Mapping[tuple[str, str], ConsistencyReport]
    whole: Mapping[tuple[str, str], ConsistencyReport]


@dataclass(frozen=True, slots=True)
class StoreReads:
    """The store's part of a snapshot (every field None when it could not be read)."""

    slo: Mapping[str, SloStatus] | None
    hours: Mapping[str, Uptime] | None
    flow: Mapping[tuple[str, float], float | None] | None
    alerts: list[dict[str, Any]] | None
    incidents: tuple[IncidentLine, ...] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StatusView:
    """One built snapshot: the dataclasses, the dict, and the encoded JSON body (gzipped
    once, on first demand, for every client that accepts it)."""

    snapshot: StatusSnapshot
    document: dict[str, Any]
    rendering: Rendering
    built_at: float
    # Every SLO at the snapshot's time (None when the store could not be read), for
    # /api/v1/slo: the same figures as the snapshot's, from the same store read.
    slos: tuple[SloStatus, ...] | None = None
    # The encoded answers of the API's parts of this snapshot (``/api/v1/targets`` and
    # the like), made on first demand: 10,000 target lines take tens of milliseconds to
    # encode, which each request must not pay again on the loop.
    parts: dict[str, Rendering] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        """The JSON body."""
        return self.rendering.plain

    def part(self, key: str, make: Callable[[], Any]) -> Rendering:
        """The encoded ``make()`` (JSON), the same for every request of this snapshot;
        ``key`` names it (bounded by the caller: a part and a configured channel)."""
        rendering = self.parts.get(key)
        if rendering is None:
            rendering = Rendering(json.dumps(make(), separators=(",", ":"),
                                             allow_nan=False).encode())
            self.parts[key] = rendering
        return rendering


def read_store(store: ProbeStore | None, g: Gathered) -> StoreReads:
    """Everything a snapshot needs from the store at ``g.now`` (blocking)."""
    if store is None:
        return StoreReads(None, None, None, None, None, "no history store configured")
    now, config = g.now, g.config
    try:
        slo = {s.spec.name: s for s in evaluate_all(store, slo_bindings(config), now)}
        start = history_start(now)
        hours = {c.name: uptime(store.series("channel", c.name, "hour", start, now + 3600), now)
                 for c in config.channels}
        objectives = config.journeys.objectives
        flow_hours = store.flow_hours(now - FLOW_WINDOW_SECONDS, now,
                                      sorted({o.target for o in objectives})) if objectives else {}
        flow = {(o.target, o.percentile): merge(flow_hours.get(o.target, ())).percentile(
            o.percentile) for o in objectives}
        # Every SQL store is an AlertStore (the Monitor alerts from it), replicas too.
        alerts = current_alerts(cast(AlertStore, store), config.alerts, now)
        recent = store.incidents(now - INCIDENT_DAYS * 86400.0, now + 1.0)
        recent.sort(key=lambda i: i.start, reverse=True)
        incidents = tuple(IncidentLine(i.channel, i.target, i.start, i.end, i.reason)
                          for i in recent[:MAX_INCIDENTS])
    except StoreDown as exc:
        return StoreReads(None, None, None, None, None, f"store unavailable: {exc.error}")
    return StoreReads(slo, hours, flow, alerts, incidents, None)


def build_snapshot(g: Gathered, reads: StoreReads) -> StatusSnapshot:
    """The snapshot from gathered state and store reads (pure)."""
    now, config = g.now, g.config
    ex = exclusions(config)
    active = [w for w in ex.maintenance if w.active_at(now)]
    closed = {name: not in_service_hours(now, h) for name, h in ex.service_hours.items()}
    lines: dict[str, list[TargetLine]] = {}
    lasts: dict[str, list[ProbeResult | None]] = {}
    # The latest results of the targets counted now: one in a maintenance window (of its
    # own, not its channel's) must not turn its channel red, as its probes are not counted.
    counted: dict[str, list[ProbeResult | None]] = {}
    for target in config.targets:
        st = g.states.get(target.name)
        if st is None:  # configured by a reload a moment ago: not even ensured yet
            st = TargetState(channel=target.channel, target=target.name, kind=target.kind)
        excluded = build.excluded_now(target.channel, target.name, active,
                                      closed.get(target.channel, False))
        lines.setdefault(target.channel, []).append(build.target_line(st, excluded))
        lasts.setdefault(target.channel, []).append(st.last)
        if excluded is None:
            counted.setdefault(target.channel, []).append(st.last)
    channels = []
    for c in config.channels:
        counts = build.target_counts(lasts.get(c.name, []))
        mine = lines.get(c.name, [])
        in_maintenance = any(w.applies_to(c.name, "") for w in active) or (
            bool(mine) and all(line.state == "maintenance" for line in mine))
        slo = None if reads.slo is None else reads.slo.get(c.name)
        channels.append(ChannelStatus(
            name=c.name,
            state=build.channel_state(build.target_counts(counted.get(c.name, [])),
                                      in_maintenance, closed.get(c.name, False)),
            targets=counts, service_hours=build.service_hours_text(c.service_hours),
            availability=None if slo is None else build.slo_availability(slo),
            uptime=None if reads.hours is None else reads.hours.get(c.name)))
    every = tuple(line for c in config.channels for line in lines.get(c.name, []))
    by_name = {line.name: line for line in every}
    return StatusSnapshot(
        generated_at=now, version=__version__,
        state=build.worst(c.state for c in channels),
        objectives=Objectives(
            availability=config.slo.objective,
            consistency=config.consistency[0].objective if config.consistency else None,
            window=duration_label(config.slo.window_seconds)),
        channels=tuple(channels), targets=every,
        journeys=journeys(config, by_name, reads.flow),
        consistency=build.consistency(config.consistency, g.latest, g.whole),
        alerts=None if reads.alerts is None else build.alert_lines(reads.alerts),
        maintenance=build.maintenance_lines(ex.maintenance, now),
        incidents=reads.incidents,
        store=StoreStatus(ok=reads.error is None, error=reads.error))


def journeys(config: Config, lines: Mapping[str, TargetLine],
             flow: Mapping[tuple[str, float], float | None] | None
             ) -> tuple[JourneyStatus, ...]:
    """Every journey and browser target with its flow-time objectives."""
    out = []
    for t in config.targets:
        if not t.is_flow:
            continue
        objectives = []
        for o in config.journeys.objectives:
            if o.target != t.name:
                continue
            value = None if flow is None else flow.get((o.target, o.percentile))
            objectives.append(JourneyObjective(
                name=f"p{percentile_label(o.percentile)}", percentile=o.percentile,
                objective_seconds=o.objective_seconds, value_seconds=value,
                met=met(value, o)))
        line = lines[t.name]
        out.append(JourneyStatus(name=t.name, channel=t.channel, state=line.state,
                                 last_duration_seconds=line.duration_seconds,
                                 objectives=tuple(objectives)))
    return tuple(out)


def build_view(store: ProbeStore | None, g: Gathered) -> StatusView:
    """Read, build, convert and encode one snapshot (blocking: run it in a thread)."""
    reads = read_store(store, g)
    snapshot = build_snapshot(g, reads)
    document = status_dict(snapshot)
    body = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    return StatusView(snapshot, document, Rendering(body), time.monotonic(),
                      None if reads.slo is None else tuple(reads.slo.values()))


def gather(monitor: Monitor, now: float) -> Gathered:
    """Copy what the loop owns (call it on the loop): the dicts, not the states in them,
    whose fields are replaced whole, never mutated in place, by each observation."""
    return Gathered(now=now, config=monitor.config, states=dict(monitor.state.targets),
                    latest=dict(monitor.consistency.latest),
                    whole=dict(monitor.consistency.whole))


class StatusService:
    """Single-flight, short-lived cache of the status snapshot of ``monitor``."""

    def __init__(self, monitor: Monitor, *, clock: Callable[[], float] = time.time,
                 max_age_seconds: float = MAX_AGE_SECONDS,
                 max_stale_seconds: float = MAX_STALE_SECONDS) -> None:
        self._monitor = monitor
        self._clock = clock
        self.max_age_seconds = max_age_seconds
        self.max_stale_seconds = max_stale_seconds
        self._view: StatusView | None = None
        self._builds = SingleFlight(self._build)

    @property
    def builds(self) -> int:
        """How many snapshots were built (for tests and curiosity)."""
        return self._builds.runs

    async def get(self) -> StatusView:
        """A snapshot at most ``max_age_seconds`` old; callers meanwhile share one build.

        While a build is in progress, callers other than the one that started it get the
        previous snapshot (up to ``max_stale_seconds`` old) rather than wait: at 10,000
        targets a build takes a good part of a second on a loaded machine, and the
        readers of a status page gain nothing from waiting for one second's news.
        """
        view = self._view
        if view is not None:
            age = time.monotonic() - view.built_at
            if age < self.max_age_seconds or (
                    self._builds.busy and age < self.max_stale_seconds):
                return view
        return await self._builds.get()

    async def _build(self) -> StatusView:
        g = gather(self._monitor, self._clock())
        view = await asyncio.to_thread(build_view, self._monitor.store, g)
        self._view = view
        return view
