"""SLO math pinned to exact values, plus properties that must hold for any data."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.slo.budget import (
    MONTH,
    Bucket,
    Counts,
    SloSpec,
    burn_rate,
    counts_between,
    duration_label,
    evaluate,
    evaluate_buckets,
    month_bounds,
    month_start,
    window_counts,
)
from monitor.slo.windows import window_seconds

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC).timestamp()
MINUTE = 60.0


def minute_series(minutes: int, total: int, bad_at: dict[int, int] | None = None) -> list[Bucket]:
    """``minutes`` minute buckets ending at NOW; ``bad_at[i]`` bad probes i minutes back."""
    bad_at = bad_at or {}
    out = []
    for i in range(1, minutes + 1):
        bad = bad_at.get(i, 0)
        out.append(Bucket(NOW - i * MINUTE, Counts(good=total - bad, total=total)))
    return out


def test_counts_between_takes_buckets_by_start() -> None:
    series = [Bucket(0.0, Counts(1, 1)), Bucket(60.0, Counts(1, 2)), Bucket(120.0, Counts(0, 3))]
    assert counts_between(series, 60.0, 120.0) == Counts(1, 2)
    assert counts_between(series, 0.0, 180.0) == Counts(2, 6)
    assert counts_between(series, 180.0, 240.0) == Counts()


def test_five_bad_minutes_page_with_exact_values() -> None:
    spec = SloSpec("app", objective=0.999)
    series = minute_series(30 * 1440, total=2, bad_at={i: 1 for i in range(1, 6)})
    status = evaluate_buckets(spec, series, NOW)
    a = status.availability

    assert a.burn_rates["5m"] == pytest.approx(5 / 10 / 0.001)
    assert a.burn_rates["30m"] == pytest.approx(5 / 60 / 0.001)
    assert a.burn_rates["1h"] == pytest.approx(5 / 120 / 0.001)
    assert a.burn_rates["6h"] == pytest.approx(5 / 720 / 0.001)
    assert a.burn_rates["3d"] == pytest.approx(5 / 8640 / 0.001)
    assert a.sli["1h"] == pytest.approx(115 / 120)
    assert a.sli["30d"] == pytest.approx(1 - 5 / 86400)
    assert a.error_budget_ratio == pytest.approx(0.001)
    assert a.error_budget_minutes == pytest.approx(43.2)
    remaining = 1 - (5 / 86400) / 0.001
    assert a.budget_remaining_ratio == pytest.approx(remaining)
    assert a.budget_remaining_minutes == pytest.approx(remaining * 43.2)
    assert a.current_burn_rate == pytest.approx(5 / 120 / 0.001)
    assert a.exhaustion_seconds == pytest.approx(remaining * 30 * 86400 / (5 / 120 / 0.001))
    assert a.alert == "page"
    # 1h/5m (14.4) and 6h/30m (6) fire; 1d/2h at 2.9 and 6h/3d at 1.4/0.58 do not.
    assert [(r.long, r.short) for r in a.firing] == [("1h", "5m"), ("6h", "30m")]
    assert status.alert == "page"
    assert a.fastest_burn_rate == pytest.approx(500.0)


def test_month_counts_start_at_the_calendar_month() -> None:
    spec = SloSpec("app")
    series = minute_series(30 * 1440, total=1, bad_at={15 * 1440: 1})  # 15 days back: Oct 31
    status = evaluate_buckets(spec, series, NOW)
    days_in_month = 14.5  # 2026-11-01 00:00 to 11-15 12:00
    assert status.counts[MONTH] == Counts(int(days_in_month * 1440), int(days_in_month * 1440))
    assert status.availability.sli[MONTH] == 1.0
    assert status.availability.sli["30d"] == pytest.approx(1 - 1 / 43200)


def test_no_data_is_unknown_not_perfect() -> None:
    status = evaluate(SloSpec("app", latency_objective=0.99), {}, NOW)
    for objective in (status.availability, status.latency):
        assert objective is not None
        assert all(v is None for v in objective.sli.values())
        assert all(v is None for v in objective.burn_rates.values())
        assert objective.budget_remaining_ratio is None
        assert objective.budget_remaining_minutes is None
        assert objective.exhaustion_seconds is None
        assert objective.alert == "ok"
        assert objective.fastest_burn_rate is None
    assert burn_rate(0, 0, 0.999) is None


def test_latency_objective_counts_degraded_and_failed_as_bad() -> None:
    spec = SloSpec("app", objective=0.9, latency_objective=0.75)
    counts = {label: Counts(good=90, total=100, degraded=15) for label in spec.windows}
    status = evaluate(spec, counts, NOW)
    assert status.availability.sli["1h"] == pytest.approx(0.9)
    assert status.latency is not None
    assert status.latency.sli["1h"] == pytest.approx(0.75)
    assert status.latency.burn_rates["1h"] == pytest.approx(0.25 / 0.25)
    assert status.availability.burn_rates["1h"] == pytest.approx(1.0)


def burns(spec: SloSpec, **rates: float) -> dict[str, Counts]:
    """Counts giving the burn rate ``rates[label]`` (0 for unnamed windows) per window."""
    total = 1_000_000
    out = {}
    for label in spec.windows:
        rate = rates.get("w" + label, 0.0)
        bad = round(rate * (1 - spec.objective) * total)
        out[label] = Counts(good=total - bad, total=total)
    return out


@pytest.mark.parametrize(
    ("rates", "alert"),
    [
        ({"w1h": 15, "w5m": 15}, "page"),
        ({"w1h": 15, "w5m": 14}, "ok"),  # the short window shows it has stopped
        ({"w1h": 14, "w5m": 50}, "ok"),  # a blip: the long window is not there yet
        ({"w6h": 6.5, "w30m": 6.5}, "page"),
        ({"w6h": 6.5, "w30m": 5.5}, "ok"),
        ({"w1d": 3.5, "w2h": 3.5}, "ticket"),
        ({"w1d": 3.5, "w2h": 2.5}, "ok"),
        ({"w3d": 1.5, "w6h": 1.5}, "ticket"),
        ({"w3d": 0.9, "w6h": 5.9}, "ok"),
        ({"w3d": 2, "w6h": 7, "w30m": 7}, "page"),
    ],
)
def test_alert_table(rates: dict[str, float], alert: str) -> None:
    spec = SloSpec("app", objective=0.999)
    assert evaluate(spec, burns(spec, **rates), NOW).availability.alert == alert


def test_a_burn_rate_equal_to_the_factor_does_not_fire() -> None:
    spec = SloSpec("app", objective=0.75)  # a budget of 0.25 is exact in binary
    at_factor = {label: Counts(good=3, total=4) for label in spec.windows}  # burn rate 1.0
    status = evaluate(spec, at_factor, NOW)
    assert status.availability.burn_rates["3d"] == 1.0
    assert status.availability.alert == "ok"
    above = {label: Counts(good=1, total=2) for label in spec.windows}  # burn rate 2.0
    assert evaluate(spec, above, NOW).availability.alert == "ticket"


def test_overspent_budget_is_exhausted_now() -> None:
    spec = SloSpec("app", objective=0.999)
    counts = {label: Counts(good=990, total=1000) for label in spec.windows}
    a = evaluate(spec, counts, NOW).availability
    assert a.budget_remaining_ratio == pytest.approx(-9.0)
    assert a.budget_remaining_minutes == pytest.approx(-9.0 * 43.2)
    assert a.exhaustion_seconds == 0.0


def test_not_burning_never_exhausts() -> None:
    spec = SloSpec("app")
    counts = {label: Counts(good=10, total=10) for label in spec.windows}
    a = evaluate(spec, counts, NOW).availability
    assert a.budget_remaining_ratio == 1.0
    assert a.exhaustion_seconds is None


def test_month_bounds_follow_the_timezone() -> None:
    start, end = month_bounds(2026, 11, "Asia/Shanghai")
    assert start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC).timestamp()
    assert end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC).timestamp()
    assert month_start(NOW, "Asia/Shanghai") == start
    assert month_bounds(2026, 12)[1] == datetime(2027, 1, 1, tzinfo=UTC).timestamp()


def test_labels() -> None:
    assert window_seconds("5m") == 300.0
    assert window_seconds("3d") == 259200.0
    assert duration_label(30 * 86400.0) == "30d"
    assert duration_label(7200.0) == "2h"
    assert duration_label(1800.0) == "30m"
    with pytest.raises(ValueError, match="minutes"):
        duration_label(90.5)
    with pytest.raises(ValueError, match="not a window"):
        window_seconds("5s")
    with pytest.raises(ValueError, match="strictly between"):
        SloSpec("x", objective=1.0)


@settings(max_examples=40, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=40),
    bad_share=st.floats(min_value=0.0, max_value=1.0),
    objective=st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9995]),
)
def test_constant_error_rate_burns_the_same_in_every_window(
    total: int, bad_share: float, objective: float
) -> None:
    bad = round(bad_share * total)
    e = bad / total
    spec = SloSpec("p", objective=objective)
    series = minute_series(3 * 1440 + 5, total, {i: bad for i in range(1, 3 * 1440 + 6)})
    status = evaluate_buckets(spec, series, NOW)
    for label, rate in status.availability.burn_rates.items():
        assert rate is not None, label
        assert math.isclose(rate, e / (1 - objective), rel_tol=1e-9, abs_tol=1e-12), label
    for label in ("1h", "1d"):
        sli = status.availability.sli[label]
        assert sli is not None
        assert math.isclose(sli, 1 - e, abs_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)),
        min_size=1,
        max_size=60,
    ),
    objective=st.sampled_from([0.9, 0.99, 0.999]),
)
def test_budget_remaining_is_one_minus_the_period_burn(
    counts: list[tuple[int, int, int]], objective: float
) -> None:
    series = []
    for i, (a, b, c) in enumerate(counts):
        good, total = min(a, b), max(a, b)
        series.append(Bucket(NOW - (i + 1) * 3600.0, Counts(good, total, min(c, good))))
    spec = SloSpec("p", objective=objective, latency_objective=objective)
    status = evaluate_buckets(spec, series, NOW)
    period = window_counts(series, ["30d"], NOW)["30d"]
    remaining = status.availability.budget_remaining_ratio
    if period.total == 0:
        assert remaining is None
    else:
        assert remaining is not None
        assert math.isclose(remaining, 1 - period.bad / period.total / (1 - objective))
        assert status.latency is not None
        lat = status.latency.sli["30d"]
        avail = status.availability.sli["30d"]
        assert lat is not None
        assert avail is not None
        assert lat <= avail  # a fast probe is always an available one


def test_status_as_json_data() -> None:
    import json

    from monitor.slo.budget import status_dict

    spec = SloSpec("app", latency_objective=0.99)
    doc = status_dict(evaluate(spec, burns(spec, w1h=15, w5m=15), NOW))
    assert doc["alert"] == "page"
    assert doc["availability"]["firing"] == [
        {"severity": "page", "long": "1h", "short": "5m", "burn_rate": 14.4}
    ]
    assert doc["availability"]["sli_ratio"]["month"] is None
    # Failures are slow too: 1.5% bad in 1h and 5m is 1.5x a 99% latency budget, no row.
    assert doc["latency"]["burn_rate"]["1h"] == pytest.approx(1.5)
    assert doc["latency"]["alert"] == "ok"
    assert json.loads(json.dumps(doc)) == doc
