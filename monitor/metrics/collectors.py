"""Process-level Prometheus collectors and the ``/metrics`` body.

Collectors read state owned by the runtime at scrape time; a fresh
:class:`~prometheus_client.CollectorRegistry` is built per process (and per test) by
:func:`build_registry`, nothing is registered globally.  The per-target probe families
are rendered by :mod:`monitor.metrics.exposition` for speed; :meth:`Monitor.metrics_body` joins all.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor.metrics.state import Histogram, ProbeState


def histogram_buckets(h: Histogram) -> list[tuple[str, float]]:
    """``(le, cumulative count)`` pairs for a HistogramMetricFamily."""
    cum = h.cumulative()
    buckets = [(repr(b), float(c)) for b, c in zip(h.bounds, cum, strict=False)]
    buckets.append(("+Inf", float(cum[-1])))
    return buckets


class SchedulerCollector(Collector):
    """How punctually and how busily probes run."""

    def __init__(self, state: ProbeState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        lateness = self._state.lateness
        late = HistogramMetricFamily(
            "omniwatch_scheduler_lateness_seconds",
            "How long after its scheduled slot each probe started.")
        late.add_metric([], histogram_buckets(lateness), lateness.total)
        yield late
        yield GaugeMetricFamily(
            "omniwatch_probes_in_flight", "Probes running right now.",
            value=self._state.in_flight)
        yield CounterMetricFamily(
            "omniwatch_probes_skipped_busy",
            "Probe runs skipped because the previous run of the same target was still going.",
            value=self._state.skipped_busy)
        skipped = CounterMetricFamily(
            "omniwatch_probe_runs_skipped",
            "Scheduled runs of a target that did not happen: busy (its previous run was "
            "still going), missed (it could not start within its grace time) or "
            "browser_busy (no browser page slot in time).",
            labels=("channel", "target", "reason"))
        targets = self._state.targets
        for (name, reason), n in sorted(self._state.skipped_runs.items()):
            st = targets.get(name)
            if st is not None:
                skipped.add_metric([st.channel, name, reason], n)
        yield skipped


@dataclass(slots=True)
class ReloadStatus:
    """Outcome of the last configuration (re)load, for the reload metrics."""

    success: bool = True
    last_success_timestamp: float = 0.0
    requests: int = 0  # SIGHUPs and POST /-/reload received
    applied: int = 0  # reloads that read the file and switched to it
    refused: int = 0  # reloads that read the file and kept the old config


class ProcessInfoCollector(Collector):
    """Build info, configuration reload health and target counts."""

    def __init__(self, version: str, reload: ReloadStatus,
                 targets_per_channel: Callable[[], dict[str, int]]) -> None:
        self._version = version
        self._reload = reload
        self._targets_per_channel = targets_per_channel

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "omniwatch_build_info", "Always 1; labels carry the version.",
            labels=("version", "python"))
        info.add_metric([self._version, platform.python_version()], 1.0)
        yield info
        yield GaugeMetricFamily(
            "omniwatch_config_last_reload_success",
            "1 if the last configuration (re)load succeeded, 0 if it was refused.",
            value=1.0 if self._reload.success else 0.0)
        yield GaugeMetricFamily(
            "omniwatch_config_last_reload_success_timestamp_seconds",
            "When a configuration was last loaded successfully.",
            value=self._reload.last_success_timestamp)
        yield CounterMetricFamily(
            "omniwatch_config_reload_requests",
            "Reloads asked for (SIGHUP, POST /-/reload); a burst is coalesced into fewer "
            "reloads.", value=self._reload.requests)
        reloads = CounterMetricFamily(
            "omniwatch_config_reloads",
            "Configuration reloads run (the file read, validated and applied or refused).",
            labels=("result",))
        reloads.add_metric(["applied"], self._reload.applied)
        reloads.add_metric(["refused"], self._reload.refused)
        yield reloads
        per_channel = GaugeMetricFamily(
            "omniwatch_targets", "Configured targets per channel.", labels=("channel",))
        for channel, n in sorted(self._targets_per_channel().items()):
            per_channel.add_metric([channel], n)
        yield per_channel


@dataclass(slots=True)
class StoreHealth:
    """Outcome of the last write of buffered results to the history store."""

    last_flush_success: bool = True
    last_flush_timestamp: float = 0.0
    last_flush_seconds: float = 0.0
    # The class of the last failed write (see monitor.store.StoreDown), None once one works.
    error: str | None = None
    failures: Counter[str] = field(default_factory=Counter)


class BufferStats(Protocol):
    """What the store says about results waiting in memory (a ``ProbeStore``)."""

    def buffered(self) -> tuple[int, int]: ...

    @property
    def aggregated_buckets(self) -> int: ...

    @property
    def dropped_probes(self) -> int: ...


class StoreCollector(Collector):
    """Whether history is being written: a database outage must be visible, not silent."""

    def __init__(self, health: StoreHealth, buffer: BufferStats | None = None) -> None:
        self._health = health
        self._buffer = buffer

    def collect(self) -> Iterator[Metric]:
        h = self._health
        yield GaugeMetricFamily(
            "omniwatch_store_last_flush_success",
            "1 if the last write of buffered probe results succeeded; 0 while it fails "
            "(results are kept and retried).", value=1.0 if h.last_flush_success else 0.0)
        yield GaugeMetricFamily(
            "omniwatch_store_last_flush_timestamp_seconds",
            "When buffered probe results were last written.", value=h.last_flush_timestamp)
        yield GaugeMetricFamily(
            "omniwatch_store_last_flush_duration_seconds",
            "How long the last successful write took.", value=h.last_flush_seconds)
        error = GaugeMetricFamily(
            "omniwatch_store_last_flush_error",
            "1 with the class of the error while writes fail (connection, read_only, "
            "disk_full, io_error, locked, cannot_open, database); absent while they work.",
            labels=("error",))
        if not h.last_flush_success and h.error is not None:
            error.add_metric([h.error], 1.0)
        yield error
        failures = CounterMetricFamily(
            "omniwatch_store_flush_failures",
            "Failed writes of buffered probe results, by error class.", labels=("error",))
        for cls, n in sorted(h.failures.items()):
            failures.add_metric([cls], n)
        yield failures
        if self._buffer is None:
            return
        buckets, probes = self._buffer.buffered()
        yield GaugeMetricFamily(
            "omniwatch_store_pending_buckets",
            "Buckets of probe results waiting in memory to be written (bounded by "
            "store.max_pending).", value=buckets)
        yield GaugeMetricFamily(
            "omniwatch_store_pending_probes",
            "Probe results waiting in memory to be written.", value=probes)
        yield CounterMetricFamily(
            "omniwatch_store_aggregated_buckets",
            "Minute buckets folded into hour buckets to keep the buffer under "
            "store.max_pending (their minute resolution is lost, their counts are not).",
            value=self._buffer.aggregated_buckets)
        yield CounterMetricFamily(
            "omniwatch_store_dropped_probes",
            "Probe results never written because the buffer was full even as hour buckets.",
            value=self._buffer.dropped_probes)


def build_registry(*collectors: Collector, process: bool = False) -> CollectorRegistry:
    """A new registry holding ``collectors`` (and nothing global).

    With ``process``, also the standard ``process_*`` families (CPU, memory, open file
    descriptors, start time) and ``python_info``, as every Prometheus client exports them;
    only one registry per ``/metrics`` body should ask for them.
    """
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return registry
