"""Flow-time math: fixed log-spaced histograms, percentiles, ISO weeks, plan objectives.

Pure: no I/O, no clock (pass ``now``).  The store keeps, per flow target and hour, the
durations of its successful counted runs as counts over :data:`FLOW_BOUNDS_SECONDS`
(plus one overflow bin), and the fastest and slowest of them; everything here works on
those.

The bounds grow by a factor of 2^(1/4) (about 19%) from 10 ms up to the first bound
past 2 h, so a percentile read back by interpolation inside its bin is off by less than
a fifth of its value, from a fast API journey to a slow account opening.  The estimate
is then clamped to the fastest and slowest run: interpolation alone could place it past
every run (all runs at 3.9 s would read ~4.27 s and miss a 4 s objective they all met).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from monitor.config.model import FlowObjective

FLOW_FACTOR: Final = 2 ** 0.25
FLOW_FIRST_BOUND_SECONDS: Final = 0.01
FLOW_LAST_NEEDED_SECONDS: Final = 7200.0


def _bounds() -> tuple[float, ...]:
    out: list[float] = []
    k = 0
    while not out or out[-1] < FLOW_LAST_NEEDED_SECONDS:
        out.append(FLOW_FIRST_BOUND_SECONDS * FLOW_FACTOR ** k)
        k += 1
    return tuple(out)


# Upper bounds (inclusive, seconds) of the flow-time bins; one more bin holds the rest.
# The store's columns follow these: changing them needs a new migration.
FLOW_BOUNDS_SECONDS: Final = _bounds()
FLOW_BINS: Final = len(FLOW_BOUNDS_SECONDS) + 1


def flow_bin(duration_seconds: float) -> int:
    """The bin of one duration: ``i`` holds ``(bound[i-1], bound[i]]``, bin 0 from 0."""
    return bisect_left(FLOW_BOUNDS_SECONDS, duration_seconds)


def bin_range(i: int) -> tuple[float, float]:
    """``(lower, upper)`` of bin ``i``; the overflow bin is empty-width at the last bound."""
    lower = 0.0 if i == 0 else FLOW_BOUNDS_SECONDS[i - 1]
    upper = FLOW_BOUNDS_SECONDS[i] if i < len(FLOW_BOUNDS_SECONDS) else lower
    return lower, upper


@dataclass(frozen=True, slots=True)
class FlowHistogram:
    """Successful runs of a flow in some span: count, sum of durations, sparse bins, and
    the fastest and slowest run.

    ``bins`` maps a bin index to its (positive) count; ``start`` is the first hour's
    start (Unix seconds) of what was summed, or 0 for an empty histogram.  ``min_seconds``
    and ``max_seconds`` are None without runs (or when not known: nothing is clamped).
    """

    start: int = 0
    runs: int = 0
    duration_sum: float = 0.0
    bins: Mapping[int, int] | None = None
    min_seconds: float | None = None
    max_seconds: float | None = None

    @property
    def mean_seconds(self) -> float | None:
        """The mean duration, or None without runs."""
        return self.duration_sum / self.runs if self.runs else None

    def percentile(self, p: float) -> float | None:
        """See :func:`percentile` (clamped to this histogram's fastest and slowest run)."""
        return percentile(self.bins or {}, p, self.min_seconds, self.max_seconds)


def histogram_of(durations: Iterable[float], start: int = 0) -> FlowHistogram:
    """The histogram of some durations (tests, and the store's in-memory tally)."""
    bins: dict[int, int] = {}
    runs = 0
    total = 0.0
    lowest: float | None = None
    highest: float | None = None
    for d in durations:
        i = flow_bin(d)
        bins[i] = bins.get(i, 0) + 1
        runs += 1
        total += d
        lowest = d if lowest is None else min(lowest, d)
        highest = d if highest is None else max(highest, d)
    return FlowHistogram(start, runs, total, bins, lowest, highest)


def merge(histograms: Iterable[FlowHistogram]) -> FlowHistogram:
    """The sum of ``histograms`` (``start`` the earliest non-empty one's).

    The fastest run is the least of the parts' fastest, the slowest the greatest; if a
    non-empty part does not know its own, neither does the sum (a clamp to the others'
    could cut off that part's runs).
    """
    bins: dict[int, int] = {}
    runs = 0
    total = 0.0
    starts = []
    lows: list[float] = []
    highs: list[float] = []
    known = True
    for h in histograms:
        if not h.runs:
            continue
        starts.append(h.start)
        runs += h.runs
        total += h.duration_sum
        for i, n in (h.bins or {}).items():
            bins[i] = bins.get(i, 0) + n
        if h.min_seconds is None or h.max_seconds is None:
            known = False
        else:
            lows.append(h.min_seconds)
            highs.append(h.max_seconds)
    lowest = min(lows) if known and lows else None
    highest = max(highs) if known and highs else None
    return FlowHistogram(min(starts, default=0), runs, total, bins, lowest, highest)


def percentile(bins: Mapping[int, int], p: float, lowest: float | None = None,
               highest: float | None = None) -> float | None:
    """The ``p``-th percentile (0 < p < 100) of the binned durations; None when empty.

    The rank ``p/100 * n`` is found in the cumulative counts and placed by linear
    interpolation inside its bin, so the answer lies in the same bin as the exact
    nearest-rank percentile of the raw durations: within one bin width of it.  In the
    overflow bin (beyond two hours) the answer is the last bound.

    The answer is then clamped to ``[lowest, highest]``, the fastest and slowest run when
    known: no estimate lies outside the observed runs, a single-valued sample reads back
    exactly, and the clamp keeps it in the exact percentile's bin (that percentile is
    itself between the two).
    """
    estimate = _interpolated(bins, p)
    if estimate is None:
        return None
    if highest is not None:
        estimate = min(estimate, highest)
    if lowest is not None:
        estimate = max(estimate, lowest)
    return estimate


def _interpolated(bins: Mapping[int, int], p: float) -> float | None:
    n = sum(bins.values())
    if n <= 0:
        return None
    rank = p / 100.0 * n
    seen = 0
    for i in sorted(bins):
        count = bins[i]
        if count <= 0:
            continue
        if seen + count >= rank:
            lower, upper = bin_range(i)
            return lower + (upper - lower) * max(0.0, rank - seen) / count
        seen += count
    return bin_range(max(bins))[1]  # float rounding only: rank is at most n


# -- weeks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week clipped to a month: ``label`` like ``2026-W49``, ``[start, end)``."""

    label: str
    start: float
    end: float


def _midnight(d: date, tz: ZoneInfo) -> float:
    return datetime.combine(d, time(0), tz).timestamp()


def month_weeks(year: int, month: int, timezone: str = "UTC") -> tuple[Week, ...]:
    """The ISO weeks (Monday 00:00 in ``timezone``) that meet the month, clipped to it."""
    tz = ZoneInfo(timezone)
    first = date(year, month, 1)
    after = date(year + month // 12, month % 12 + 1, 1)
    weeks = []
    day = first
    while day < after:
        monday = day - timedelta(days=day.weekday())
        next_monday = monday + timedelta(days=7)
        iso_year, iso_week, _ = day.isocalendar()
        weeks.append(Week(f"{iso_year}-W{iso_week:02d}", _midnight(day, tz),
                          _midnight(min(next_monday, after), tz)))
        day = next_monday
    return tuple(weeks)


def week_start(t: float, timezone: str = "UTC") -> float:
    """Monday 00:00 (in ``timezone``) of the ISO week holding ``t``."""
    tz = ZoneInfo(timezone)
    day = datetime.fromtimestamp(t, tz).date()
    return _midnight(day - timedelta(days=day.weekday()), tz)


# -- objectives --------------------------------------------------------------------------


def is_plan(objective: FlowObjective) -> bool:
    """A plan (baseline reduced by a date) rather than a fixed ``max``."""
    return objective.max_seconds is None


def planned_seconds(objective: FlowObjective, at: float, first_data: float | None
                    ) -> float:
    """The value the plan allows at ``at``.

    Linear from the baseline at ``since`` (absent: ``first_data``, the start of the first
    week with data; absent too: ``at``, so the baseline) to the objective at ``by``, flat
    after ``by`` and at the baseline before the start.  A ``max`` objective is flat.
    """
    goal = objective.objective_seconds
    if not is_plan(objective) or objective.by is None:
        return goal
    baseline = objective.baseline_seconds or goal
    begin = objective.since if objective.since is not None else first_data
    if begin is None:
        begin = at
    if at >= objective.by:
        return goal
    if at <= begin or objective.by <= begin:
        return baseline
    return baseline + (goal - baseline) * (at - begin) / (objective.by - begin)


def on_track(value: float | None, planned: float) -> bool | None:
    """Whether a week's percentile is at or under the plan; None (never on track) without
    data."""
    return None if value is None else value <= planned


def met(value: float | None, objective: FlowObjective) -> bool | None:
    """Whether a percentile is at or under the objective; None without data."""
    return None if value is None else value <= objective.objective_seconds


def percentile_label(p: float) -> str:
    """``95.0`` → ``"95"``, ``99.9`` → ``"99.9"``: the metric label and column text."""
    return f"{p:g}"
