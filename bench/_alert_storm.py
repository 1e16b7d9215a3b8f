"""The storm half of ``bench/alerts.py``: 10,000 failing targets through one evaluation
tick after another, in process, on a real SQLite store.

Each tick is :meth:`AlertingService.evaluate` exactly as ``omniwatch run`` calls it (the
rules, the state machine, the store write with its outbox entries, silences and SLO
reads in worker threads), on a clock the bench moves by ``evaluation_interval``.  CPU is
``time.process_time()`` around the call: every thread of the process, so the store
write in its worker thread is counted too.  Probe results are folded into the probe
state *between* ticks and are not counted (they are the probes' cost, not the
evaluation's).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from _procs import rss_bytes

from alerts.store import AlertStore
from monitor.config.loader import parse_config
from monitor.config.model import Config
from monitor.consistency.jobs import ConsistencyState
from monitor.metrics.collectors import StoreHealth
from monitor.metrics.state import ProbeState
from monitor.runtime.alerting import AlertingService
from monitor.slo.bindings import exclusions
from monitor.store import open_store
from probes.result import ProbeResult

PROBE_INTERVAL = 30.0  # seconds: a target's probe interval in the scenario
EVAL_INTERVAL = 5.0  # the default alerts.evaluation_interval
GROUP_WAIT = 30.0  # the default group_wait


def storm_config(targets: int, channels: int, *, inhibit: bool, db: Path) -> Config:
    """``targets`` tcp targets spread over ``channels`` channels, default rules and
    timers, Slack as the default receiver (never reached: the bench does not deliver)."""
    per = targets // channels
    lines = [f"store: {{sqlite: {db}}}", "channels:"]
    for c in range(channels):
        lines += [f"  ch{c:02d}:", "    labels: {team: ops}", "    targets:"]
        lines += [f"      - {{name: t{c:02d}-{i:05d}, probe: tcp, host: 127.0.0.1, "
                  f"port: {9 + i % 50}, interval: {PROBE_INTERVAL:g}s}}" for i in range(per)]
    lines += ["alerts:", '  slack: {token: "xoxb-bench", channel: "#bench", '
              'api_url: "http://127.0.0.1:9/api/"}']
    if not inhibit:
        lines.append("  inhibit: []")
    return parse_config("\n".join(lines) + "\n", file="bench-storm.yaml")


def failure(at: float) -> ProbeResult:
    return ProbeResult(success=False, reason="connect_refused", duration_seconds=0.001,
                       message="connection refused", started_at=at)


def success(at: float) -> ProbeResult:
    return ProbeResult(success=True, reason="ok", duration_seconds=0.001, started_at=at)


@dataclass
class Tick:
    """One evaluation: what it cost and what it wrote."""

    label: str
    cpu_seconds: float
    wall_seconds: float
    alerts_written: int
    notifications: int


@dataclass
class StormResult:
    """Every tick of one scenario, and RSS around it."""

    scenario: str
    targets: int
    channels: int
    ticks: list[Tick] = field(default_factory=list)
    rss_before: int = 0
    rss_after: int = 0
    firing: int = 0
    outbox: int = 0

    def cpu(self, label: str) -> list[float]:
        return [t.cpu_seconds for t in self.ticks if t.label == label]

    def first(self, label: str) -> Tick:
        return next(t for t in self.ticks if t.label == label)


class _Counting:
    """The store, counting what each tick writes (alerts and notifications)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.alerts = 0
        self.notifications = 0

    def save_change(self, change: Any) -> None:
        self.alerts += len(change.alerts)
        self.notifications += len(change.notifications)
        self._store.save_change(change)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def _scenario(name: str, targets: int, channels: int, *, inhibit: bool,
                    steady_ticks: int, profile: cProfile.Profile | None) -> StormResult:
    with tempfile.TemporaryDirectory(prefix="omniwatch-bench-storm-") as tmp:
        db = Path(tmp) / "storm.db"
        config = storm_config(targets, channels, inhibit=inhibit, db=db)
        store = open_store(config.store)
        counting = _Counting(store)
        now = [time.time()]
        state = ProbeState()  # the bench plays the probes
        svc = AlertingService(config, cast(AlertStore, counting), probe_state=state,
                              consistency=ConsistencyState(), store_health=StoreHealth(),
                              excluded=exclusions(config).reason, clock=lambda: now[0])
        names = [(t.channel, t.name, t.kind) for t in config.targets]
        result = StormResult(name, len(names), channels, rss_before=rss_bytes(os.getpid()))

        async def tick(label: str, observe: Any = None) -> None:
            if observe is not None:
                for ch, tn, kind in observe:
                    state.observe(ch, tn, kind, failure(now[0] - 1.0))
            counting.alerts = counting.notifications = 0
            prof = profile if label == "steady" else None
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if prof is not None:
                prof.enable()
            await svc.evaluate()
            if prof is not None:
                prof.disable()
            result.ticks.append(Tick(label, time.process_time() - cpu0,
                                     time.perf_counter() - wall0, counting.alerts,
                                     counting.notifications))
            now[0] += EVAL_INTERVAL

        try:
            for ch, tn, kind in names:  # every target up once: the monitor before the storm
                state.observe(ch, tn, kind, success(now[0] - 2.0))
            await tick("healthy")
            await tick("healthy")
            # Every target fails on the same tick (worst case: probes in step), three
            # times in a row (target_down.after), one probe interval compressed into a tick.
            await tick("pending", names)
            await tick("pending 2/3", names)
            await tick("storm", names)  # all firing, ChannelDown too, groups open
            per_tick = max(1, round(len(names) * EVAL_INTERVAL / PROBE_INTERVAL))
            flush_at = now[0] - EVAL_INTERVAL + GROUP_WAIT
            k = 0
            while now[0] < flush_at:  # group_wait: probes keep failing, a sixth a tick
                batch = names[k % len(names):k % len(names) + per_tick]
                k += per_tick
                await tick("waiting", batch)
            await tick("flush")
            for _ in range(steady_ticks):  # a sixth of the targets reported since
                batch = names[k % len(names):k % len(names) + per_tick]
                k += per_tick
                await tick("steady", batch)
            for _ in range(steady_ticks):  # nothing reported since (probes in step)
                await tick("quiet")
            result.rss_after = rss_bytes(os.getpid())
            result.firing = sum(1 for a in svc.engine.alerts.values() if a.status == "firing")
            result.outbox = int(store.outbox_counts().get("pending", 0))
        finally:
            await svc.dispatcher.stop()
            store.close()
        return result


def run_storm(targets: int, channels: int, steady_ticks: int,
              profile_to: Path | None = None) -> list[StormResult]:
    """Both scenarios: the default inhibition (a ChannelDown per channel mutes its
    TargetDowns) and ``inhibit: []`` (every TargetDown grouped and notified)."""
    profile = cProfile.Profile() if profile_to is not None else None
    out = [asyncio.run(_scenario("default inhibition", targets, channels, inhibit=True,
                                 steady_ticks=steady_ticks, profile=profile)),
           asyncio.run(_scenario("inhibit: []", targets, channels, inhibit=False,
                                 steady_ticks=steady_ticks, profile=None))]
    if profile is not None and profile_to is not None:
        profile.dump_stats(str(profile_to))
        pstats.Stats(str(profile_to)).sort_stats("cumulative").print_stats(30)
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def storm_table(results: list[StormResult]) -> list[str]:
    """The markdown rows of the storm figures."""
    rows = ["| scenario | healthy | first failures (10k pending) | storm (10k firing) "
            "| flush | steady, a sixth re-probed: median / max | steady, nothing new: "
            "median / max | RSS before → after |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        steady, quiet, flush = r.cpu("steady"), r.cpu("quiet"), r.first("flush")
        rows.append(
            f"| {r.scenario}: {r.targets:,} targets in {r.channels} channels, "
            f"{r.firing:,} firing, {r.outbox} notifications | "
            f"{ms(r.cpu('healthy')[-1])} | {ms(r.first('pending').cpu_seconds)} | "
            f"{ms(r.first('storm').cpu_seconds)} | {ms(flush.cpu_seconds)} | "
            f"**{ms(statistics.median(steady))}** / {ms(max(steady))} | "
            f"**{ms(statistics.median(quiet))}** / {ms(max(quiet))} | "
            f"{r.rss_before / 2**20:.0f} → {r.rss_after / 2**20:.0f} MB |")
    return rows
