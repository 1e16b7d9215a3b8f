"""What the store keeps, and the in-memory batch of writes between flushes. No I/O.

A bucket holds, for one target (or one channel) and one minute or hour:

- ``good``, ``total``, ``degraded``: counted probes, as :class:`monitor.slo.Counts`;
- ``excluded``: probes left out by a maintenance window or service hours (in no SLI);
- ``latency_sum`` and ``histogram``: durations of the *good* counted probes, the
  histogram over :data:`LATENCY_BOUNDS_SECONDS` plus one overflow bin;
- ``reason``: the last failure reason seen in the bucket, when there was a failure;
- ``flow``: for a flow target (a journey or browser check: its results have steps), the
  durations of its successful counted runs over the fine flow-time bins of
  :mod:`monitor.slo.flowtime`.  Only the hour table ``flow_hour`` keeps them.

Incidents are recorded from state transitions, not derived from buckets (minute buckets
live two days; a monthly report needs a month): the first counted failure of a target
that was up opens one, with that failure's reason; the next counted success closes it.
Excluded probes never open or close an incident.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Final

from monitor.slo.budget import Counts
from monitor.slo.flowtime import FLOW_BINS, flow_bin
from probes.result import ProbeResult

MINUTE: Final = 60
HOUR: Final = 3600
# Upper bounds (inclusive, seconds) of the coarse latency histogram; one more bin > 10 s.
LATENCY_BOUNDS_SECONDS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HISTOGRAM_BINS: Final = len(LATENCY_BOUNDS_SECONDS) + 1


class FlowTally:
    """Successful runs of a flow in one bucket: count, duration sum, fastest and slowest
    run (percentiles are clamped to them), sparse bins."""

    __slots__ = ("bins", "duration_sum", "max_duration", "min_duration", "runs")

    def __init__(self) -> None:
        self.runs = 0
        self.duration_sum = 0.0
        self.min_duration: float | None = None  # None only while there is no run
        self.max_duration: float | None = None
        self.bins: dict[int, int] = {}

    def add(self, duration_seconds: float) -> None:
        i = flow_bin(duration_seconds)
        self.runs += 1
        self.duration_sum += duration_seconds
        self._extremes(duration_seconds, duration_seconds)
        self.bins[i] = self.bins.get(i, 0) + 1

    def merge(self, other: FlowTally) -> None:
        self.runs += other.runs
        self.duration_sum += other.duration_sum
        if other.min_duration is not None and other.max_duration is not None:
            self._extremes(other.min_duration, other.max_duration)
        for i, n in other.bins.items():
            self.bins[i] = self.bins.get(i, 0) + n

    def _extremes(self, low: float, high: float) -> None:
        if self.min_duration is None or low < self.min_duration:
            self.min_duration = low
        if self.max_duration is None or high > self.max_duration:
            self.max_duration = high

    def values(self) -> tuple[int | float | None, ...]:
        """Column values in :data:`FLOW_COLUMNS` order; an empty bin is NULL (no bytes)."""
        get = self.bins.get
        return (self.runs, self.duration_sum, self.min_duration, self.max_duration,
                *(get(i) for i in range(FLOW_BINS)))


FLOW_COLUMNS: Final = ("runs", "duration_sum", "min_duration", "max_duration",
                       *(f"f{i}" for i in range(FLOW_BINS)))


class Tally:
    """A mutable accumulator for one bucket; the unit of a batched write."""

    __slots__ = ("degraded", "excluded", "flow", "good", "histogram", "latency_sum", "reason",
                 "total")

    def __init__(self) -> None:
        self.good = 0
        self.total = 0
        self.degraded = 0
        self.excluded = 0
        self.latency_sum = 0.0
        self.histogram = [0] * HISTOGRAM_BINS
        self.reason: str | None = None
        self.flow: FlowTally | None = None  # only ever set for flow targets

    def add(self, result: ProbeResult, excluded: bool) -> None:
        """Count one final probe result."""
        if excluded:
            self.excluded += 1
            return
        self.total += 1
        if result.success:
            self.good += 1
            self.degraded += result.degraded
            self.latency_sum += result.duration_seconds
            self.histogram[bisect_left(LATENCY_BOUNDS_SECONDS, result.duration_seconds)] += 1
            if result.steps:  # a flow: one truthiness test is all a plain probe pays
                if self.flow is None:
                    self.flow = FlowTally()
                self.flow.add(result.duration_seconds)
        else:
            self.reason = result.reason

    def merge(self, other: Tally) -> None:
        """Add ``other`` into this tally (the later reason wins)."""
        self.good += other.good
        self.total += other.total
        self.degraded += other.degraded
        self.excluded += other.excluded
        self.latency_sum += other.latency_sum
        for i, n in enumerate(other.histogram):
            self.histogram[i] += n
        if other.reason is not None:
            self.reason = other.reason
        if other.flow is not None:
            if self.flow is None:
                self.flow = FlowTally()
            self.flow.merge(other.flow)

    def values(self) -> tuple[int | float | str | None, ...]:
        """Column values in :data:`VALUE_COLUMNS` order."""
        return (
            self.good,
            self.total,
            self.degraded,
            self.excluded,
            self.latency_sum,
            *self.histogram,
            self.reason,
        )


VALUE_COLUMNS: Final = (
    "good",
    "total",
    "degraded",
    "excluded",
    "latency_sum",
    *(f"h{i}" for i in range(HISTOGRAM_BINS)),
    "reason",
)


@dataclass(frozen=True, slots=True)
class BucketTotals:
    """Stored counts of one bucket, or of a sum of buckets (``start`` is then the first)."""

    start: int
    good: int
    total: int
    degraded: int
    excluded: int
    latency_sum: float
    histogram: tuple[int, ...]
    reason: str | None = None

    @property
    def counts(self) -> Counts:
        """The part the SLO math reads."""
        return Counts(self.good, self.total, self.degraded)

    @property
    def mean_latency_seconds(self) -> float | None:
        """Mean duration of the good probes, or None without any."""
        return self.latency_sum / self.good if self.good else None


@dataclass(frozen=True, slots=True)
class Incident:
    """A span during which a target was down. ``end`` is None while it still is."""

    channel: str
    target: str
    start: float
    end: float | None
    reason: str

    def duration_seconds(self, until: float) -> float:
        """Length of the incident, counting an open one up to ``until``."""
        return (self.end if self.end is not None else until) - self.start


BucketKey = tuple[str, str, int]  # (channel, target, minute or hour start)


@dataclass(frozen=True, slots=True)
class Compaction:
    """What :meth:`Batch.compact` did to stay under its cap."""

    aggregated_buckets: int = 0  # minute buckets folded into hour buckets
    dropped_buckets: int = 0  # hour buckets thrown away (the oldest), as a last resort
    dropped_probes: int = 0  # probe results in the dropped buckets


class Batch:
    """Writes accumulated since the last flush: minute tallies and incident changes.

    ``hours`` holds tallies that :meth:`compact` folded out of ``minutes`` to bound the
    batch during a long store outage: they are written to the hour tables only, so
    the SLO windows longer than a day and the monthly report keep every probe, while
    the minute resolution of the oldest hours is given up.

    Not thread-safe by itself; the store guards it with a lock and swaps it whole.
    """

    __slots__ = ("hours", "incidents", "minutes", "probes")

    def __init__(self) -> None:
        self.minutes: dict[BucketKey, Tally] = {}
        self.hours: dict[BucketKey, Tally] = {}
        self.incidents: dict[tuple[str, float], Incident] = {}
        self.probes = 0  # probe results held (counted and excluded)

    def __len__(self) -> int:
        return len(self.minutes) + len(self.hours) + len(self.incidents)

    @property
    def buckets(self) -> int:
        """Minute plus hour buckets: what :meth:`compact` bounds."""
        return len(self.minutes) + len(self.hours)

    def add(self, channel: str, target: str, t: float, result: ProbeResult, excluded: bool) -> None:
        key = (channel, target, int(t // MINUTE) * MINUTE)
        tally = self.minutes.get(key)
        if tally is None:
            tally = self.minutes[key] = Tally()
        tally.add(result, excluded)
        self.probes += 1

    def merge(self, other: Batch) -> None:
        """Add ``other`` into this batch (a failed flush's batch, put back)."""
        for mine, theirs in ((self.minutes, other.minutes), (self.hours, other.hours)):
            for key, tally in theirs.items():
                acc = mine.get(key)
                if acc is None:
                    mine[key] = tally
                else:
                    acc.merge(tally)
        for ikey, incident in other.incidents.items():
            self.incidents.setdefault(ikey, incident)
        self.probes += other.probes

    def compact(self, cap: int) -> Compaction:
        """Bring :attr:`buckets` down to 90% of ``cap`` when it is above ``cap``.

        First the minute buckets of the oldest hour (all targets at once) are folded
        into hour buckets, hour after hour; only when nothing is left to fold are the
        oldest hour buckets dropped.  Going down to 90% makes the work amortised: a
        batch at its cap does not compact again on every probe.
        """
        if self.buckets <= cap:
            return Compaction()
        low = cap * 9 // 10
        aggregated = dropped = dropped_probes = 0
        if self.minutes:
            by_hour: dict[int, list[BucketKey]] = {}
            for key in self.minutes:
                by_hour.setdefault(key[2] // HOUR * HOUR, []).append(key)
            for hour in sorted(by_hour):
                if self.buckets <= low:
                    break
                for key in by_hour[hour]:
                    tally = self.minutes.pop(key)
                    hkey = (key[0], key[1], hour)
                    acc = self.hours.get(hkey)
                    if acc is None:
                        self.hours[hkey] = tally
                    else:
                        acc.merge(tally)
                    aggregated += 1
        if self.buckets > low:
            excess = self.buckets - low
            for hkey in sorted(self.hours, key=lambda k: k[2])[:excess]:
                tally = self.hours.pop(hkey)
                dropped += 1
                dropped_probes += tally.total + tally.excluded
        self.probes -= dropped_probes
        return Compaction(aggregated, dropped, dropped_probes)

    def rollups(self) -> dict[str, dict[tuple[str, int], Tally]]:
        """The batch as rows per table: ``target_minute``, ``target_hour``, ``channel_*``.

        Keys are ``(name, bucket start)``.
        """
        out: dict[str, dict[tuple[str, int], Tally]] = {
            "target_minute": {},
            "target_hour": {},
            "channel_minute": {},
            "channel_hour": {},
        }
        for (channel, target, minute), tally in self.minutes.items():
            hour = minute // HOUR * HOUR
            out["target_minute"][(target, minute)] = tally
            for table, key in (
                ("target_hour", (target, hour)),
                ("channel_minute", (channel, minute)),
                ("channel_hour", (channel, hour)),
            ):
                _add(out[table], key, tally)
        for (channel, target, hour), tally in self.hours.items():
            _add(out["target_hour"], (target, hour), tally)
            _add(out["channel_hour"], (channel, hour), tally)
        return out


def join_stored_incident(batch: Batch, open_incidents: dict[str, Incident], stored: Incident,
                         first: tuple[float, bool] | None) -> None:
    """Join an incident left open in the database to what was recorded since start-up.

    For a store that could only connect after probing began: ``first`` is the target's
    first counted result since then, ``(started_at, success)``, or None.  A first
    success ends ``stored``; a first failure opened an incident that *is* ``stored``.
    """
    target = stored.target
    if first is None:  # not probed yet: the next counted result decides
        open_incidents[target] = stored
        return
    t, success = first
    if success:
        batch.incidents[(target, stored.start)] = Incident(
            stored.channel, target, stored.start, t, stored.reason)
        return
    mine = batch.incidents.pop((target, t), None)
    end = None if mine is None else mine.end
    joined = Incident(stored.channel, target, stored.start, end, stored.reason)
    batch.incidents[(target, stored.start)] = joined
    if end is None:
        open_incidents[target] = joined


def _add(rows: dict[tuple[str, int], Tally], key: tuple[str, int], tally: Tally) -> None:
    acc = rows.get(key)
    if acc is None:
        acc = rows[key] = Tally()
    acc.merge(tally)
