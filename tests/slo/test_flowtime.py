"""Flow-time math: bins, percentiles against exact ones, merges, ISO weeks, plans."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config.model import FlowObjective
from monitor.slo.flowtime import (
    FLOW_BINS,
    FLOW_BOUNDS_SECONDS,
    FlowHistogram,
    bin_range,
    flow_bin,
    histogram_of,
    merge,
    met,
    month_weeks,
    on_track,
    percentile,
    percentile_label,
    planned_seconds,
    week_start,
)

DAY = 86400.0


def utc(year: int, month: int, day: int, hour: int = 0) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def exact(samples: list[float], p: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least p% at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def test_bounds_span_10ms_to_past_two_hours() -> None:
    assert FLOW_BOUNDS_SECONDS[0] == 0.01
    assert FLOW_BOUNDS_SECONDS[-2] < 7200 <= FLOW_BOUNDS_SECONDS[-1]
    assert FLOW_BINS == 80
    ratios = {round(b / a, 9) for a, b in itertools.pairwise(FLOW_BOUNDS_SECONDS)}
    assert ratios == {round(2 ** 0.25, 9)}
    assert flow_bin(0.0) == flow_bin(0.01) == 0
    assert flow_bin(0.0101) == 1
    assert flow_bin(10_000.0) == FLOW_BINS - 1  # overflow


durations = st.floats(min_value=0.0, max_value=7000.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(samples=st.lists(durations, min_size=1, max_size=300),
       p=st.floats(min_value=0.1, max_value=99.9))
def test_percentile_is_within_one_bin_of_the_exact_one(samples: list[float], p: float) -> None:
    got = histogram_of(samples).percentile(p)
    assert got is not None
    want = exact(samples, p)
    lower, upper = bin_range(flow_bin(want))
    assert lower <= got <= upper
    assert abs(got - want) <= upper - lower
    assert min(samples) <= got <= max(samples)  # never outside the observed runs


@settings(max_examples=200, deadline=None)
@given(d=durations, n=st.integers(min_value=1, max_value=500),
       p=st.floats(min_value=0.1, max_value=99.9))
def test_a_single_valued_sample_reads_back_exactly(d: float, n: int, p: float) -> None:
    assert histogram_of([d] * n).percentile(p) == d


def test_every_run_at_3_9s_meets_a_4s_max() -> None:
    # The review's case: interpolation alone reads ~4.27 s, past every run.
    h = histogram_of([3.9] * 50)
    assert (percentile(h.bins or {}, 95) or 0.0) > 4.0
    assert h.percentile(95) == h.percentile(50) == 3.9
    assert met(h.percentile(95), FlowObjective("transfer", 95, max_seconds=4.0)) is True


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.lists(durations, max_size=40), max_size=6))
def test_merge_equals_the_histogram_of_all_samples(parts: list[list[float]]) -> None:
    merged = merge(histogram_of(part, start=i * 3600) for i, part in enumerate(parts))
    whole = histogram_of(d for part in parts for d in part)
    assert merged.runs == whole.runs
    assert merged.bins == whole.bins
    assert merged.duration_sum == pytest.approx(whole.duration_sum)
    assert (merged.min_seconds, merged.max_seconds) == (whole.min_seconds, whole.max_seconds)
    assert merged.start == min((i * 3600 for i, p in enumerate(parts) if p), default=0)


def test_a_merge_with_a_part_of_unknown_extremes_clamps_nothing() -> None:
    known = histogram_of([3.9] * 4)
    unknown = FlowHistogram(3600, 1, 9.0, {flow_bin(9.0): 1})  # extremes not given
    merged = merge([known, unknown, FlowHistogram()])
    assert (merged.min_seconds, merged.max_seconds) == (None, None)
    assert merge([known, FlowHistogram()]).max_seconds == 3.9  # an empty part is no part
    assert merge([]) == FlowHistogram(0, 0, 0.0, {})


def test_percentile_interpolates_inside_the_bin() -> None:
    i = flow_bin(3.0)
    lower, upper = bin_range(i)
    assert percentile({i: 4}, 50) == pytest.approx(lower + (upper - lower) / 2)
    assert percentile({i: 4}, 100) == pytest.approx(upper)
    assert percentile({}, 50) is None
    assert FlowHistogram().percentile(95) is None
    assert percentile({FLOW_BINS - 1: 3}, 50) == FLOW_BOUNDS_SECONDS[-1]  # overflow
    # Clamped to the fastest and slowest run, when given.
    assert percentile({i: 4}, 100, lowest=2.8, highest=2.9) == 2.9
    assert percentile({i: 4}, 1, lowest=2.8, highest=2.9) == 2.8
    assert percentile({FLOW_BINS - 1: 3}, 50, 9000.0, 9500.0) == 9000.0
    assert percentile({}, 50, 1.0, 2.0) is None


def test_month_weeks_are_iso_weeks_clipped_to_the_month() -> None:
    weeks = month_weeks(2026, 11)
    assert [w.label for w in weeks] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47",
                                        "2026-W48", "2026-W49"]
    assert (weeks[0].start, weeks[0].end) == (utc(2026, 11, 1), utc(2026, 11, 2))  # a Sunday
    assert (weeks[1].start, weeks[1].end) == (utc(2026, 11, 2), utc(2026, 11, 9))
    assert (weeks[-1].start, weeks[-1].end) == (utc(2026, 11, 30), utc(2026, 12, 1))
    # ISO week-years: 2027-01-01 is a Friday of 2026-W53.
    assert month_weeks(2027, 1)[0].label == "2026-W53"


def test_weeks_start_at_local_midnight_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    weeks = month_weeks(2026, 3, "Europe/Berlin")
    monday = datetime(2026, 3, 30, tzinfo=berlin).timestamp()  # after the switch to CEST
    assert weeks[-1].start == monday
    assert weeks[-2].end - weeks[-2].start == 7 * DAY - 3600  # the short week
    assert week_start(monday + 5 * DAY, "Europe/Berlin") == monday
    shanghai = month_weeks(2026, 12, "Asia/Shanghai")[0]
    assert shanghai.start == utc(2026, 11, 30, 16)  # Tuesday 1 Dec 00:00 +08:00


PLAN = FlowObjective("opening", 95, baseline_seconds=720.0, reduce_by=0.3,
                     by=utc(2027, 3, 1), since=utc(2026, 12, 1))


def test_a_plan_runs_linearly_from_baseline_to_objective_then_stays() -> None:
    assert PLAN.objective_seconds == pytest.approx(504.0)
    middle = (PLAN.since + PLAN.by) / 2  # type: ignore[operator]
    assert planned_seconds(PLAN, middle, None) == pytest.approx(612.0)
    assert planned_seconds(PLAN, utc(2026, 11, 1), None) == 720.0  # before it starts
    assert planned_seconds(PLAN, utc(2027, 3, 1), None) == pytest.approx(504.0)
    assert planned_seconds(PLAN, utc(2027, 6, 1), None) == pytest.approx(504.0)


def test_a_plan_without_since_starts_at_the_first_week_with_data() -> None:
    plan = FlowObjective("opening", 95, baseline_seconds=100.0, reduce_by=0.5, by=10 * DAY)
    assert planned_seconds(plan, 6 * DAY, first_data=2 * DAY) == pytest.approx(75.0)
    assert planned_seconds(plan, 6 * DAY, first_data=None) == 100.0


def test_max_objectives_are_flat_and_judgements_need_data() -> None:
    fixed = FlowObjective("transfer", 50, max_seconds=4.0)
    assert planned_seconds(fixed, 0.0, None) == 4.0
    assert met(4.0, fixed) is True
    assert met(4.01, fixed) is False
    assert met(None, fixed) is None
    assert on_track(None, 4.0) is None
    assert on_track(3.0, 4.0) is True
    assert (percentile_label(95.0), percentile_label(99.9)) == ("95", "99.9")
