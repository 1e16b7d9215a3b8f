"""What the monitor has observed so far, kept in memory for scrapes and the API.

One :class:`ProbeState` per process, owned by the runtime and passed to the collectors;
nothing here is global.  Updates are plain attribute writes on the event loop thread;
a scrape reads a consistent enough snapshot without locks because both run there.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.config.model import BrowserSpec, JourneySpec, Target
from probes.result import ProbeResult

# Probe duration histogram bounds (seconds).  From 1 ms, so LAN probes (1-10 ms) are
# resolved rather than all landing in the first bucket, with 0.8 for the typical 800 ms
# latency threshold, up to the common 5 s timeout (+Inf takes longer ones).  No more
# than that on purpose: with 10,000 targets every bound is 10,000 series in every scrape.
DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0)
# Scheduler lateness bounds (seconds): how long after its slot a probe really started.
LATENESS_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0)
# Journey step bounds (seconds): API steps take milliseconds, browser steps (a page load,
# a selector to appear) seconds, up to a step's usual 30 s ceiling.  Every bound is one
# series per step, so a dozen.
STEP_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Whole-flow bounds (seconds) for successful runs: a 4-step API journey in tens of ms
# to a browser account opening of a few minutes, which the flow-time objectives read.
FLOW_BUCKETS: tuple[float, ...] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0)
# Probe kinds whose targets are flows (Target.is_flow): their state has a FlowState.
FLOW_KINDS: tuple[str, ...] = ("journey", "browser")


@dataclass(slots=True)
class Histogram:
    """Cumulative-on-read histogram counts for fixed upper bounds."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)  # one per bound, plus +Inf
    total: float = 0.0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[int]:
        """Counts per bound as Prometheus wants them: ``le`` buckets then +Inf."""
        out, running = [], 0
        for c in self.counts:
            running += c
            out.append(running)
        return out


@dataclass(slots=True)
class FlowState:
    """What a journey or browser target's steps did: only flow targets carry one.

    Step histograms are keyed by the step names the latest run (or configuration)
    reported, so a step renamed or removed by a reload stops being exported.
    """

    step_duration: dict[str, Histogram] = field(default_factory=dict)
    # The current step names (None until known): a reload that drops a step hides it
    # from the last run's step gauges too, before the next run replaces that run.
    names: frozenset[str] | None = None
    # Durations of *successful* runs only: the flow time the objectives are about.
    duration: Histogram = field(default_factory=lambda: Histogram(FLOW_BUCKETS))

    def observe(self, result: ProbeResult) -> None:
        """Fold one run's steps and, when it succeeded, its duration."""
        if result.steps:
            self.retain(s.name for s in result.steps)
        for step in result.steps:
            if step.skipped:
                continue
            h = self.step_duration.get(step.name)
            if h is None:
                h = self.step_duration[step.name] = Histogram(STEP_BUCKETS)
            h.observe(step.duration_seconds)
        if result.success:
            self.duration.observe(result.duration_seconds)

    def retain(self, names: Iterable[str]) -> None:
        """Forget the steps not in ``names``."""
        keep = frozenset(names)
        self.names = keep
        for name in [n for n in self.step_duration if n not in keep]:
            del self.step_duration[name]


def step_names(target: Target) -> tuple[str, ...] | None:
    """The configured step names of a flow target (``finally`` ones too); None otherwise."""
    spec = target.spec
    if isinstance(spec, JourneySpec):
        return tuple(s.name for s in (*spec.steps, *spec.finally_steps))
    if isinstance(spec, BrowserSpec):
        return tuple(s.name for s in spec.steps)
    return None


@dataclass(slots=True)
class TargetState:
    """Everything observed for one target since the process started."""

    channel: str
    target: str
    kind: str
    last: ProbeResult | None = None
    results: Counter[tuple[str, str]] = field(default_factory=Counter)  # (result, reason)
    excluded: Counter[str] = field(default_factory=Counter)  # why not counted
    attempts: int = 0
    duration: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))
    # The current run of counted results, for the alert rules' thresholds.  Excluded
    # results (maintenance, service hours) change none of these: a failure nobody counts
    # must neither bring an alert closer nor, as a success, resolve one.
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    failing_since: float | None = None  # started_at of the current run's first failure
    last_failure: ProbeResult | None = None  # the latest counted failure: the alert's reason
    # notAfter from the latest result that read a certificate: a connection that failed
    # before the handshake says nothing about the certificate, so it does not clear this.
    cert_expiry: float | None = None
    # started_at of the first result with the latest result's label (success, degraded,
    # failure): since when the target is in the state the status page shows.
    since: float | None = None
    # Journey and browser targets only (FLOW_KINDS, or a first result with steps): an
    # http target pays nothing for the journey families, neither memory nor scrape time.
    flow: FlowState | None = None
    # Bumped on every observation; the exposition cache is keyed on it.
    version: int = 0
    rendered: tuple[int, tuple[str, ...]] | None = None


@dataclass(slots=True)
class ProbeState:
    """Per-target state plus scheduler health, keyed by target name."""

    targets: dict[str, TargetState] = field(default_factory=dict)
    lateness: Histogram = field(default_factory=lambda: Histogram(LATENESS_BUCKETS))
    in_flight: int = 0
    skipped_busy: int = 0
    # Runs that did not happen, per (target, reason): "busy" or "missed" (the scheduler),
    # "browser_busy" (the probe raised NotRun).
    skipped_runs: Counter[tuple[str, str]] = field(default_factory=Counter)

    def ensure(self, channel: str, target: str, kind: str) -> TargetState:
        """The state for ``target``, created (or re-homed after a reload) as needed."""
        st = self.targets.get(target)
        if st is None or st.channel != channel or st.kind != kind:
            st = TargetState(channel=channel, target=target, kind=kind,
                             flow=FlowState() if kind in FLOW_KINDS else None)
            self.targets[target] = st
        return st

    def retain(self, names: set[str]) -> None:
        """Forget targets no longer configured, so their series disappear."""
        for name in list(self.targets):
            if name not in names:
                del self.targets[name]
        for key in [k for k in self.skipped_runs if k[0] not in names]:
            del self.skipped_runs[key]

    def configure_steps(self, target: Target) -> None:
        """After a reload: forget the series of ``target``'s steps no longer configured."""
        names = step_names(target)
        st = self.targets.get(target.name)
        if names is None or st is None or st.flow is None:
            return
        st.flow.retain(names)
        st.version += 1

    def observe(self, channel: str, target: str, kind: str, result: ProbeResult,
                excluded: str | None = None) -> None:
        """Fold one final probe result into the target's state.

        An ``excluded`` result (maintenance, service hours; the value says which) is the
        latest observation like any other, but is counted apart from ``results`` so
        that ``omniwatch_probes_total`` holds exactly the probes the SLIs count, and it
        leaves the consecutive-result counters as they were.  A degraded success is a
        success for the counters, as it is for availability.
        """
        st = self.ensure(channel, target, kind)
        if st.last is None or st.last.result_label != result.result_label:
            st.since = result.started_at or None
        st.last = result
        if excluded is None:
            st.results[(result.result_label, result.reason)] += 1
            if result.success:
                st.consecutive_successes += 1
                st.consecutive_failures = 0
                st.failing_since = None
            else:
                if st.consecutive_failures == 0:
                    st.failing_since = result.started_at
                st.consecutive_failures += 1
                st.consecutive_successes = 0
                st.last_failure = result
        else:
            st.excluded[excluded] += 1
        if result.cert_expiry_timestamp is not None:
            st.cert_expiry = result.cert_expiry_timestamp
        st.attempts += result.attempts
        st.duration.observe(result.duration_seconds)
        if st.flow is None and (result.steps or result.measurements):
            st.flow = FlowState()
        if st.flow is not None:
            st.flow.observe(result)
        st.version += 1
