"""Alerting in the running monitor: rules over the monitor's state, the state machine,
the outbox and its delivery, a lease so that one replica alone does this.

Every ``alerts.evaluation_interval`` the replica holding the ``alerts`` lease reads the
facts (probe state, the SLO table, the latest consistency checks, its own health), runs
the rules and the state machine, and writes the state change together with the
notifications it decided in one transaction; the :class:`~alerts.outbox.Dispatcher`
delivers them.  A replica that takes the lease over reloads the state from the store
first, so nothing is notified twice and no alert is forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from alerts.config import AlertsConfig, Receiver, SlackSettings
from alerts.engine import StepMemo, muted_by, step
from alerts.evaluation import RuleMemo
from alerts.facts import HealthFacts
from alerts.model import Alert, AlertSnapshot, Silence
from alerts.outbox import Delivery, Destination, Dispatcher
from alerts.providers import Provider, RenderOptions, build_provider
from alerts.rules import evaluate
from alerts.store import AlertStore, EngineState
from monitor.config.model import Config
from monitor.metrics.alerts import AlertStats
from monitor.metrics.collectors import StoreHealth
from monitor.metrics.state import ProbeState, TargetState
from monitor.runtime.alert_counts import AlertCounts
from monitor.runtime.alert_facts import FactsCache, rule_inputs
from monitor.runtime.alert_wake import Wakeup
from monitor.slo.bindings import evaluate_all, slo_bindings

if TYPE_CHECKING:
    from monitor.consistency.jobs import ConsistencyState
    from monitor.slo.budget import SloStatus

log = logging.getLogger("omniwatch.alerts")

LEASE_NAME: Final = "alerts"
LEASE_TTL_SECONDS: Final = 15.0
# The SLO table reads the store; once per this long is plenty for windows of 5 m and up.
SLO_REFRESH_SECONDS: Final = 30.0
OUTBOX_PRUNE_SECONDS: Final = 7 * 86400.0
# A receiver retrying this long counts as failing (the self-health alert goes elsewhere).
RETRYING_FAILS_AFTER_SECONDS: Final = 300.0


def holder_id() -> str:
    """This process's lease identity: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def destinations(config: AlertsConfig) -> dict[str, Destination]:
    """A provider per receiver, with its pacing (one Slack channel, one pace)."""
    options = RenderOptions(links=config.links, external_url=config.external_url)
    out = {}
    for receiver in config.receivers:
        out[receiver.name] = Destination(
            provider=build_provider(receiver, options), kind=receiver.kind,
            pace_key=pace_key(receiver),
            min_interval_seconds=(receiver.settings.min_interval_seconds
                                  if isinstance(receiver.settings, SlackSettings) else 0.0))
    return out


def pace_key(receiver: Receiver) -> str:
    """Sends sharing a key are spaced apart: a Slack channel, or one webhook URL."""
    s = receiver.settings
    if isinstance(s, SlackSettings):
        target = s.channel if s.token else s.webhook_url or ""
        # Hashed: the webhook URL is a secret and pace keys may be logged.
        return "slack:" + hashlib.sha256(f"{s.token}|{target}".encode()).hexdigest()[:16]
    return receiver.name


class AlertingService:
    """Rules, state machine and delivery for one monitor (see the module docstring)."""

    def __init__(self, config: Config, store: AlertStore, *, probe_state: ProbeState,
                 consistency: ConsistencyState, store_health: StoreHealth,
                 excluded: Callable[[str, str, float], str | None],
                 clock: Callable[[], float] = time.time, holder: str | None = None) -> None:
        self.config = config
        self.store = store
        self.stats = AlertStats()
        self.engine = EngineState()
        self.silences: list[Silence] = []
        self._probe_state = probe_state
        self._consistency = consistency
        self._store_health = store_health
        self.excluded = excluded
        self._clock = clock
        self.holder = holder or holder_id()
        self.dispatcher = Dispatcher(store, {}, on_delivery=self._delivered, clock=clock)
        self._task: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._slo: tuple[float, Sequence[SloStatus] | None] = (-1e18, None)
        self._bindings = slo_bindings(config)
        self._lateness = (0, 0.0, 0)  # (count, sum, skipped) at the last evaluation
        self._store_failing_since: float | None = None
        self._recently_resolved: dict[str, tuple[AlertSnapshot, float]] = {}
        self._last_prune = 0.0
        self.leader = False
        self._closing: set[asyncio.Task[None]] = set()
        self._failing: dict[str, str] = {}
        self._lease_until = 0.0
        # Kept between evaluations so that targets whose state did not change cost a
        # look-up, not a rebuild (10,000 down targets, every few seconds).
        self._facts = FactsCache()
        self._rule_memo = RuleMemo()
        self._step_memo = StepMemo()
        self._counts = AlertCounts()
        self.wakeup = Wakeup()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alerting")

    async def stop(self) -> None:
        for task in (self._task, self._sync_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._sync_task = None
        await self._step_down()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.store.release_lease, LEASE_NAME, self.holder)

    def apply(self, config: Config) -> None:
        """A reload: new rules and routes apply at the next evaluation; the alerts keep
        their state; receivers whose settings changed get new providers."""
        old = self.config.alerts
        self.config = config
        self._bindings = slo_bindings(config)
        if self.leader and config.alerts.receivers != old.receivers:
            before = {r.name: r for r in old.receivers}
            for r in config.alerts.receivers:
                if before.get(r.name) != r:  # new settings (a fixed token): a fresh start
                    self.dispatcher.broken.pop(r.name, None)
                    self.dispatcher.retrying.pop(r.name, None)
            retired = self.dispatcher.replace(destinations(config.alerts))
            task = asyncio.create_task(_close(retired))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def counted_failure(self, st: TargetState) -> None:
        """A counted failure was folded into ``st``: if it is the one that confirms a
        TargetDown, evaluate now rather than at the next tick (see alert_wake)."""
        if self.leader and st.consecutive_failures == self.config.alerts.rules.target_down_after:
            self.wakeup.nudge()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        renewed = -math.inf
        while True:
            interval = self.config.alerts.evaluation_interval_seconds
            started = loop.time()
            # Renewed at the regular pace, not at every early evaluation (a lease is a
            # database write): never more than two intervals apart, within its TTL.
            if started - renewed >= interval / 2:
                renewed = started
                await self._renew(interval)
            ok = False
            if self.leader:
                self.wakeup.clear()
                try:
                    ok = await self.evaluate()
                except Exception:  # a bug must not stop alerting for good
                    log.exception("alerts_evaluation_crashed")
            # After a failed evaluation (the store is down) only the regular pace: the
            # groups it could not flush are still due, and retrying at once would spin.
            await self.wakeup.pause(started, interval, self._due_in() if ok else None,
                                    nudges=ok)

    async def _renew(self, interval: float) -> None:
        ttl = max(LEASE_TTL_SECONDS, 3 * interval)
        asked = self._clock()
        try:
            leader = await asyncio.to_thread(
                self.store.acquire_lease, LEASE_NAME, self.holder, ttl, asked)
            if leader:
                self._lease_until = asked + ttl
        except Exception as exc:  # StoreDown: ours only until the lease we hold expires
            log.error("alerts_lease_failed", extra={
                "error": getattr(exc, "error", type(exc).__name__), "detail": str(exc)})
            leader = self.leader and self._clock() < self._lease_until
        if leader and not self.leader:
            await self._step_up()
        elif not leader and self.leader:
            await self._step_down()

    def _due_in(self) -> float | None:
        """Seconds until the first group is due to flush, if any group is kept."""
        if not self.leader or not self.engine.groups:
            return None
        return min(g.next_flush_at for g in self.engine.groups.values()) - self._clock()

    async def _step_up(self) -> None:
        """Take over: the state as the last leader left it, then deliver what is due."""
        try:
            self.engine = await asyncio.to_thread(self.store.load_engine_state)
        except Exception as exc:
            log.error("alerts_state_load_failed", extra={
                "error": getattr(exc, "error", type(exc).__name__), "detail": str(exc)})
            return
        self.leader = self.stats.leader = True
        self._counts.forget()  # another state: count it afresh
        dests = destinations(self.config.alerts)
        self.dispatcher.replace(dests)
        log.info("alerts_leader", extra={"holder": self.holder, "alerts": len(self.engine.alerts),
                                         "receivers": sorted(dests)})
        for name, dest in dests.items():
            for problem in await _check(dest.provider):
                log.warning("alerts_receiver_check", extra={"receiver": name, "problem": problem})
        if self.config.alerts.alertmanager is not None:
            self._sync_task = asyncio.create_task(self._alertmanager_sync())

    async def _step_down(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            self._sync_task = None
        providers = [d.provider for d in self.dispatcher.routes.values()]
        await self.dispatcher.stop()
        self.dispatcher.routes = {}
        await _close(providers)
        if self.leader:
            log.info("alerts_standby", extra={"holder": self.holder})
        self.leader = self.stats.leader = False
        # The leader exports the alerts and the outbox now; ours are as of when we led
        # and would show alerts firing long after they resolved.  Counters stay.
        self.stats.alerts = Counter()
        self.stats.outbox_pending = None

    # --- one evaluation -------------------------------------------------------------

    async def evaluate(self) -> bool:
        """Run the rules and the state machine once; False if the state could not be saved
        (the next evaluation decides again from the unchanged state: same ids, no loss)."""
        now = self._clock()
        started = time.perf_counter()
        slos = await self._slo_statuses(now)
        try:
            self.silences = await asyncio.to_thread(self.store.silences, now)
        except Exception as exc:
            log.error("alerts_silences_unreadable", extra={"detail": str(exc)})
            self.stats.evaluation_failures += 1
            return False
        cfg = self.config.alerts
        inputs = rule_inputs(self.config, self._probe_state, now=now, slo_statuses=slos,
                             consistency=self._consistency.latest, health=self._health(now),
                             excluded=self.excluded, cache=self._facts)
        signals = evaluate(inputs, cfg.rules, self.engine.alerts, self._rule_memo)
        new, change = step(self.engine, signals, now=now, config=cfg, silences=self.silences,
                           broken=frozenset(self._failing), memo=self._step_memo)
        if change:
            try:
                await asyncio.to_thread(self.store.save_change, change)
            except Exception as exc:
                self.stats.evaluation_failures += 1
                log.error("alerts_state_save_failed", extra={
                    "error": getattr(exc, "error", type(exc).__name__), "detail": str(exc),
                    "notifications": len(change.notifications)})
                return False
        self._remember_resolved(self.engine, change.alerts, now)
        old, self.engine = self.engine, new
        self.stats.evaluations += 1
        self.stats.alerts = self._counts.update(old, new, change, cfg, self.silences, now)
        if change.notifications:
            self.dispatcher.wake()
        await self._housekeeping(now)
        self.stats.last_evaluation_seconds = time.perf_counter() - started
        return True

    async def _slo_statuses(self, now: float) -> Sequence[SloStatus] | None:
        at, cached = self._slo
        if now - at < SLO_REFRESH_SECONDS and cached is not None:
            return cached
        store = cast(Any, self.store)
        try:
            statuses = await asyncio.to_thread(evaluate_all, store, self._bindings, now)
        except Exception:  # StoreDown: unknown, so the SLO alerts stay as they are
            self._slo = (-1e18, None)
            return None
        self._slo = (now, statuses)
        return statuses

    def _health(self, now: float) -> HealthFacts:
        st = self._probe_state
        count, total = sum(st.lateness.counts), st.lateness.total
        skipped = sum(st.skipped_runs.values())
        c0, t0, s0 = self._lateness
        self._lateness = (count, total, skipped)
        lateness = (total - t0) / (count - c0) if count > c0 else None
        self._failing = self.dispatcher.failing(now, RETRYING_FAILS_AFTER_SECONDS)
        health = self._store_health
        if health.error is None:
            self._store_failing_since = None
        elif self._store_failing_since is None:
            self._store_failing_since = now
        return HealthFacts(probe_lateness_seconds=lateness, skipped_runs=skipped - s0,
                           store_error=health.error,
                           store_failing_since=self._store_failing_since,
                           failing_receivers=self._failing)

    def _remember_resolved(self, old: EngineState, changed: Sequence[Alert], now: float) -> None:
        """Resolved alerts leave the state at once; Alertmanager hears of them a while."""
        am = self.config.alerts.alertmanager
        if am is None:
            return
        keep = getattr(am.settings, "resolved_resend_seconds", 300.0)
        for a in changed:
            before = old.alerts.get(a.fingerprint)
            if a.status == "resolved" and before is not None and before.status == "firing":
                self._recently_resolved[a.fingerprint] = (_snapshot(a), now + keep)
        for fp, (_, until) in list(self._recently_resolved.items()):
            if until < now:
                del self._recently_resolved[fp]

    async def _housekeeping(self, now: float) -> None:
        try:
            counts = await asyncio.to_thread(self.store.outbox_counts)
            self.stats.outbox_pending = int(counts.get("pending", 0))
            if now - self._last_prune > 3600.0:
                self._last_prune = now
                await asyncio.to_thread(self.store.prune_outbox, now - OUTBOX_PRUNE_SECONDS)
        except Exception:  # reported by the evaluation or the next one
            return

    def _delivered(self, d: Delivery) -> None:
        self.stats.notifications[(d.kind, d.result)] += 1
        if d.delay_seconds is not None:
            self.stats.delay.observe(d.delay_seconds)

    # --- Alertmanager ---------------------------------------------------------------

    async def _alertmanager_sync(self) -> None:
        """Re-send every firing alert (and recently resolved ones) to Alertmanager, which
        resolves by itself what is not re-sent within its resolve_timeout."""
        am = self.config.alerts.alertmanager
        assert am is not None
        interval = getattr(am.settings, "resend_interval_seconds", 60.0)
        while True:
            await asyncio.sleep(interval)
            dest = self.dispatcher.routes.get(am.name)
            if dest is None:
                continue
            now = self._clock()
            muted = muted_by(self.engine, self.config.alerts, self.silences, now)
            firing = [_snapshot(a) for fp, a in self.engine.alerts.items()
                      if a.status == "firing" and fp not in muted]
            resolved = [s for s, until in self._recently_resolved.values() if until >= now]
            if not firing and not resolved:
                continue
            try:
                await cast(Any, dest.provider).sync([*firing, *resolved])
            except Exception as exc:
                self.stats.notifications[("alertmanager", "retry")] += 1
                log.warning("alertmanager_resync_failed", extra={
                    "error": getattr(exc, "code", type(exc).__name__), "detail": str(exc)})


def _snapshot(a: Alert) -> AlertSnapshot:
    firing = a.status == "firing"
    return AlertSnapshot(fingerprint=a.fingerprint, status="firing" if firing else "resolved",
                         labels=a.labels, annotations=a.annotations,
                         starts_at=a.fired_at or a.active_since,
                         ends_at=None if firing else a.resolved_at)


async def _check(provider: Provider) -> list[str]:
    try:
        return await provider.check()
    except Exception as exc:  # a check is advice; it must not stop alerting
        return [f"check failed: {exc}"]


async def _close(providers: Sequence[Provider]) -> None:
    for p in providers:
        with contextlib.suppress(Exception):
            await p.close()
