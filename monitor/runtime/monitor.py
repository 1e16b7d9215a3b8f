"""The running monitor: configuration, scheduler, probes, state and history wired up.

Owns every piece of process state and hands it to collaborators explicitly; a test can
build as many independent :class:`Monitor` objects as it likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import cast

from prometheus_client import generate_latest

from alerts.store import AlertStore
from monitor import __version__
from monitor.config import ConfigError
from monitor.config.model import Config, Target
from monitor.consistency.jobs import ConsistencyRunner, ConsistencyState
from monitor.metrics.alerts import AlertsCollector
from monitor.metrics.collectors import (
    ProcessInfoCollector,
    ReloadStatus,
    SchedulerCollector,
    StoreCollector,
    StoreHealth,
    build_registry,
)
from monitor.metrics.consistency import ConsistencyCollector
from monitor.metrics.exposition import prerender, render_targets
from monitor.metrics.flowtime import FlowObjectiveCollector
from monitor.metrics.server import ServerCollector, ServerStats
from monitor.metrics.slo import SloCollector
from monitor.metrics.state import ProbeState
from monitor.runtime.alerting import AlertingService
from monitor.runtime.reload import Coalescer, PreparedReload, prepare, prepare_config
from monitor.runtime.scheduler import ProbeScheduler
from monitor.slo.bindings import exclusions, slo_bindings
from monitor.slo.flowreport import flow_scopes
from monitor.store import ProbeStore, StoreDown
from probes import PROBES
from probes.context import ProbeContext
from probes.result import NotRun, ProbeResult
from probes.runner import run_target

log = logging.getLogger("omniwatch.monitor")


class ProbeBusy(Exception):
    """``server.probe_concurrency`` ad-hoc probes are running already: try again later."""


class Monitor:
    """One monitoring process: probes on schedule, state for scrapes, history, reloads.

    With a ``store``, every confirmed result is recorded there (flagged when a maintenance
    window or service hours exclude it), flushed every ``store.flush_interval`` from a
    worker thread, and the SLO families are computed from it at scrape time.
    """

    def __init__(self, config: Config, *, config_path: str | None = None,
                 store: ProbeStore | None = None) -> None:
        self.config = config
        self.config_path = config_path
        self.store = store
        self.state = ProbeState()
        self.ctx = ProbeContext()
        self.reload_status = ReloadStatus(success=True, last_success_timestamp=time.time())
        self.store_health = StoreHealth()
        self.consistency = ConsistencyState()
        self.server_stats = ServerStats()
        self._exclusions = exclusions(config)
        # Alert state, silences and the outbox live in the store (every SQL store is an
        # AlertStore too): without one there is nothing durable to alert from.
        self.alerting = None if store is None else AlertingService(
            config, cast(AlertStore, store), probe_state=self.state,
            consistency=self.consistency, store_health=self.store_health,
            excluded=self._exclusions.reason)
        self.registry = build_registry(
            ProcessInfoCollector(__version__, self.reload_status, self._targets_per_channel),
            SchedulerCollector(self.state),
            StoreCollector(self.store_health, store),
            ConsistencyCollector(self.consistency),
            ServerCollector(self.server_stats),
            *(() if self.alerting is None else (AlertsCollector(self.alerting.stats),)),
            process=True,
        )
        self._slo_collector = None if store is None else SloCollector(
            store, slo_bindings(config), time.time, self.store_health)
        self._flow_collector = None if store is None else FlowObjectiveCollector(
            store, flow_scopes(config), time.time)
        # SLO and flow-time families read the database: rendered in a worker thread, never
        # on the loop.
        self.slo_registry = build_registry(*(c for c in (self._slo_collector,
                                                          self._flow_collector) if c is not None))
        self._targets = {t.name: t for t in config.targets}
        self._semaphore = asyncio.Semaphore(config.scheduler.max_concurrency)
        self._scheduler = ProbeScheduler(self._run_scheduled, on_skipped=self._skipped)
        self._reloads: Coalescer[list[str]] = Coalescer(self._reload_once)
        self._tasks: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._checks = ConsistencyRunner(self.consistency, store)
        self.started = False

    def _targets_per_channel(self) -> dict[str, int]:
        counts = Counter(t.channel for t in self._targets.values())
        return {c.name: counts.get(c.name, 0) for c in self.config.channels}

    def _skipped(self, name: str, reason: str) -> None:
        if reason == "busy":
            self.state.skipped_busy += 1
        if name in self.state.targets:
            self.state.skipped_runs[(name, reason)] += 1

    def start(self) -> None:
        """Schedule every target (needs a running event loop)."""
        self._prepare_browser()
        for t in self.config.targets:
            self.state.ensure(t.channel, t.name, t.kind)
        self._scheduler.sync(self.config.targets)
        self._scheduler.start()
        if self.store is not None:
            self._flusher = asyncio.create_task(self._flush_loop())
        self._start_consistency()
        if self.alerting is not None:
            self.alerting.start()
        self.started = True
        log.info("monitor_started", extra={"targets": len(self._targets),
                                           "config": self.config.source})

    def _prepare_browser(self) -> None:
        # Only a monitor with browser targets starts a browser, and it does so now: the
        # launch takes seconds that the first check would otherwise take from its timeout.
        self.ctx.browsers.configure(self.config.browser)
        if any(t.kind == "browser" for t in self.config.targets):
            self.ctx.browsers.prepare()

    def _start_consistency(self) -> None:
        # The check in progress is cancelled (its statements ended) and the new schedule's
        # first check waits for it: two checks of one channel never overlap.
        self._checks.replace(self.config.consistency)

    async def stop(self) -> None:
        """Stop scheduling, cancel probes in flight, write what is buffered."""
        await self._reloads.close()
        self._scheduler.shutdown()
        # A check in progress is cancelled: its connections closed, its statements ended.
        await self._checks.stop()
        if self.alerting is not None:
            await self.alerting.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self.store is not None:
            await self.flush()
        await self.ctx.browsers.aclose()
        self.started = False
        log.info("monitor_stopped")

    async def _flush_loop(self) -> None:
        assert self.store is not None
        interval = self.config.store.flush_interval_seconds
        while True:
            await asyncio.sleep(interval)
            await self.flush()

    async def flush(self) -> bool:
        """Write buffered results now (in a worker thread); False if the database failed.

        A failed flush keeps its batch for the next one: a database outage delays the
        history, it does not drop it (the store bounds the buffer, see store.max_pending).
        The store reconnects by itself, with backoff, when the database is back.
        """
        if self.store is None:
            return True
        health = self.store_health
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self.store.flush)
        except Exception as exc:
            error = exc.error if isinstance(exc, StoreDown) else "internal"
            health.last_flush_success = False
            health.error = error
            health.failures[error] += 1
            buckets, probes = self.store.buffered()
            log.error("store_flush_failed", extra={
                "error": error, "detail": str(exc), "pending_probes": probes,
                "pending_buckets": buckets})
            return False
        if not health.last_flush_success:
            log.info("store_flush_recovered", extra={
                "last_success": health.last_flush_timestamp or None,
                "dropped_probes": self.store.dropped_probes})
        health.last_flush_success = True
        health.error = None
        health.last_flush_timestamp = time.time()
        health.last_flush_seconds = time.perf_counter() - started
        return True

    def apply(self, config: Config) -> None:
        """Switch to ``config`` now (blocking, on the loop): see :meth:`apply_prepared`."""
        self.apply_prepared(prepare_config(config, self._targets))

    def apply_prepared(self, new: PreparedReload) -> None:
        """Switch to a configuration built off the loop, touching only what changed:
        unchanged targets keep their jobs, phase and state; changed ones keep their state
        (unless their channel or kind changed) and move their job only for a new interval.
        """
        config, diff = new.config, new.diff
        if config.store != self.config.store:
            log.warning("store_change_needs_restart", extra={"config": config.source})
        consistency_changed = config.consistency != self.config.consistency
        self.config = config
        self._targets = dict(new.targets)
        self._exclusions = new.exclusions
        if self.alerting is not None:
            self.alerting.excluded = new.exclusions.reason
            self.alerting.apply(config)
        if self._slo_collector is not None:
            self._slo_collector.bindings = new.bindings
        if self._flow_collector is not None:
            self._flow_collector.scopes = tuple(flow_scopes(config))
        for name in diff.removed:
            self.state.targets.pop(name, None)
        for t in (*diff.added, *diff.changed):
            self.state.ensure(t.channel, t.name, t.kind)
            self.state.configure_steps(t)  # a renamed or removed step's series go
        if self.started:
            self._prepare_browser()
            self._scheduler.update(added=diff.added, removed=diff.removed,
                                   retimed=diff.retimed)
            if consistency_changed:
                self.consistency.latest.clear()
                self.consistency.whole.clear()
                self._start_consistency()

    async def reload(self) -> list[str]:
        """Re-read the configuration file; on error keep the old config and say why.

        Returns the problems found (empty on success).  The file is read, validated and
        compared in a worker thread; requests made while a reload runs are served by
        one more reload after it (see :class:`~monitor.runtime.reload.Coalescer`).
        """
        self.reload_status.requests += 1
        # Shielded: the server cancels a handler whose client left, and the future is
        # shared by every request the same run serves.
        return await asyncio.shield(self._reloads.request())

    def request_reload(self) -> None:
        """Ask for a reload without waiting for it (the SIGHUP handler)."""
        self.reload_status.requests += 1
        self._reloads.request()

    async def _reload_once(self) -> list[str]:
        if self.config_path is None:
            return ["no configuration file to reload (running on embedded defaults)"]
        try:
            prepared = await asyncio.to_thread(prepare, self.config_path, self._targets)
        except ConfigError as exc:
            self.reload_status.success = False
            self.reload_status.refused += 1
            problems = [str(p) for p in exc.problems]
            log.error("config_reload_refused", extra={
                "config": self.config_path, "problems": problems})
            return problems
        self.apply_prepared(prepared)
        self.reload_status.success = True
        self.reload_status.applied += 1
        self.reload_status.last_success_timestamp = time.time()
        d = prepared.diff
        log.info("config_reloaded", extra={
            "config": self.config_path, "targets": len(self._targets),
            "added": len(d.added), "removed": len(d.removed), "changed": len(d.changed),
            "requests": self.reload_status.requests, "reloads": self._reloads.runs})
        return []

    async def _run_scheduled(self, name: str, slot: float) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            async with self._semaphore:
                target = self._targets.get(name)
                if target is None:
                    return
                self.state.lateness.observe(max(0.0, time.time() - slot))
                self.state.in_flight += 1
                outcome: ProbeResult | NotRun
                try:
                    outcome = await run_target(target, self.ctx, PROBES[target.kind])
                except NotRun as exc:
                    outcome = exc
                finally:
                    self.state.in_flight -= 1
            # A reload may have removed or changed the target while it was probed.
            if self._targets.get(name) is not target:
                return
            if isinstance(outcome, NotRun):
                # omniwatch's own capacity, not the target: no result, no SLI, no alert.
                self._skipped(name, outcome.reason)
                log.warning("probe_skipped", extra={
                    "channel": target.channel, "target": name, "reason": outcome.reason,
                    "detail": outcome.message})
            else:
                self.observe(target, outcome)
        finally:
            if task is not None:
                self._tasks.discard(task)

    def observe(self, target: Target, result: ProbeResult) -> None:
        """Fold a result into state and history; excluded probes count in no SLI."""
        excluded = self._exclusions.reason(target.channel, target.name,
                                           result.started_at or time.time())
        self.state.observe(target.channel, target.name, target.kind, result, excluded)
        st = self.state.targets[target.name]
        prerender(st)
        if self.alerting is not None and excluded is None and not result.success:
            self.alerting.counted_failure(st)
        if self.store is not None:
            self.store.record(target.channel, target.name, result, excluded is not None)
        if not result.success:  # a target down is worth a warning; the SLO decides alerts
            log.warning("probe_failed", extra={
                "channel": target.channel, "target": target.name, "reason": result.reason,
                "detail": result.message, "attempts": result.attempts,
                **({"step": result.details["step"]} if "step" in result.details else {}),
                **({"excluded": excluded} if excluded else {})})

    async def probe_now(self, name: str) -> ProbeResult | None:
        """Probe the configured target ``name`` now, outside its schedule; None if unknown.

        The result is not folded into the SLI: an ad-hoc look must not change the record.
        Raises :class:`~probes.result.NotRun` when the probe could not run (no browser
        page slot in time).
        At most ``server.probe_concurrency`` run at once (more raise :class:`ProbeBusy`),
        and each waits for a ``scheduler.max_concurrency`` slot like a scheduled probe,
        so requests cannot open sockets past the cap.  Cancelling the caller (a client
        that went away) cancels the probe and closes its connection.
        """
        target = self._targets.get(name)
        if target is None:
            return None
        stats = self.server_stats
        if stats.probe_requests_in_flight >= self.config.server.probe_concurrency:
            raise ProbeBusy(f"{stats.probe_requests_in_flight} /probe requests running")
        stats.probe_requests_in_flight += 1
        try:
            async with self._semaphore:
                self.state.in_flight += 1
                try:
                    return await run_target(target, self.ctx, PROBES[target.kind])
                finally:
                    self.state.in_flight -= 1
        finally:
            stats.probe_requests_in_flight -= 1

    def target(self, name: str) -> Target | None:
        """The configured target ``name``, or None."""
        return self._targets.get(name)

    async def metrics_body(self) -> bytes:
        """The ``/metrics`` exposition: SLO families (from the store, off the loop), the
        process families, then the per-target families."""
        slo = await asyncio.to_thread(generate_latest, self.slo_registry)
        return (generate_latest(self.registry) + slo
                + render_targets(self.state.targets.values()).encode())
