"""The running monitor: configuration, scheduler, probes, state and result sinks wired up.

Owns every piece of process state and hands it to collaborators explicitly; a test can
build as many independent :class:`Monitor` objects as it likes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from monitor import __version__
from monitor.config import ConfigError, load_config
from monitor.exposition import prerender
from monitor.metrics import (
    ProcessInfoCollector,
    ReloadStatus,
    SchedulerCollector,
    build_registry,
    render_metrics,
)
from monitor.model import Config, Target
from monitor.scheduler import ProbeScheduler
from monitor.state import ProbeState
from probes import PROBES
from probes.context import ProbeContext
from probes.result import ProbeResult
from probes.runner import run_target

log = logging.getLogger("omniwatch.monitor")


class ResultSink(Protocol):
    """Receives every confirmed probe result (the history store implements this)."""

    def record(self, target: Target, result: ProbeResult) -> None:
        """Take ``result`` for ``target``; must be cheap and must not block."""


class Monitor:
    """One monitoring process: probes on schedule, state for scrapes, safe reloads."""

    def __init__(self, config: Config, *, config_path: str | None = None,
                 sinks: Sequence[ResultSink] = ()) -> None:
        self.config = config
        self.config_path = config_path
        self.sinks = list(sinks)
        self.state = ProbeState()
        self.ctx = ProbeContext()
        self.reload_status = ReloadStatus(success=True, last_success_timestamp=time.time())
        self.registry = build_registry(
            ProcessInfoCollector(__version__, self.reload_status, self._targets_per_channel),
            SchedulerCollector(self.state),
        )
        self._targets = {t.name: t for t in config.targets}
        self._semaphore = asyncio.Semaphore(config.scheduler.max_concurrency)
        self._scheduler = ProbeScheduler(self._run_scheduled, on_skipped=self._skipped)
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = False

    def _targets_per_channel(self) -> dict[str, int]:
        counts = Counter(t.channel for t in self._targets.values())
        return {c.name: counts.get(c.name, 0) for c in self.config.channels}

    def _skipped(self) -> None:
        self.state.skipped_busy += 1

    def start(self) -> None:
        """Schedule every target (needs a running event loop)."""
        for t in self.config.targets:
            self.state.ensure(t.channel, t.name, t.kind)
        self._scheduler.sync(self.config.targets)
        self._scheduler.start()
        self.started = True
        log.info("monitor_started", extra={"targets": len(self._targets),
                                           "config": self.config.source})

    async def stop(self) -> None:
        """Stop scheduling and cancel probes in flight."""
        self._scheduler.shutdown()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.started = False
        log.info("monitor_stopped")

    def apply(self, config: Config) -> None:
        """Switch to ``config``: jobs are added, removed or re-timed; state is kept."""
        self.config = config
        self._targets = {t.name: t for t in config.targets}
        self.state.retain(set(self._targets))
        for t in config.targets:
            self.state.ensure(t.channel, t.name, t.kind)
        if self.started:
            self._scheduler.sync(config.targets)

    def reload(self) -> list[str]:
        """Re-read the configuration file; on error keep the old config and say why.

        Returns the problems found (empty on success).
        """
        if self.config_path is None:
            return ["no configuration file to reload (running on embedded defaults)"]
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.reload_status.success = False
            problems = [str(p) for p in exc.problems]
            log.error("config_reload_refused", extra={
                "config": self.config_path, "problems": problems})
            return problems
        self.apply(config)
        self.reload_status.success = True
        self.reload_status.last_success_timestamp = time.time()
        log.info("config_reloaded", extra={"config": self.config_path,
                                           "targets": len(self._targets)})
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
                try:
                    result = await run_target(target, self.ctx, PROBES[target.kind])
                finally:
                    self.state.in_flight -= 1
            # A reload may have removed or changed the target while it was probed.
            if self._targets.get(name) is target:
                self.observe(target, result)
        finally:
            if task is not None:
                self._tasks.discard(task)

    def observe(self, target: Target, result: ProbeResult) -> None:
        """Fold a result into state and hand it to every sink."""
        self.state.observe(target.channel, target.name, target.kind, result)
        prerender(self.state.targets[target.name])
        for sink in self.sinks:
            sink.record(target, result)
        if not result.success:
            log.info("probe_failed", extra={
                "channel": target.channel, "target": target.name, "reason": result.reason,
                "detail": result.message, "attempts": result.attempts})

    async def probe_now(self, name: str) -> ProbeResult | None:
        """Probe the configured target ``name`` now, outside its schedule; None if unknown.

        The result is not folded into the SLI: an ad-hoc look must not change the record.
        """
        target = self._targets.get(name)
        if target is None:
            return None
        return await run_target(target, self.ctx, PROBES[target.kind])

    def target(self, name: str) -> Target | None:
        """The configured target ``name``, or None."""
        return self._targets.get(name)

    def metrics_body(self) -> bytes:
        """The ``/metrics`` exposition."""
        return render_metrics(self.registry, self.state)
