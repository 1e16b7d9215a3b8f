"""Maintenance windows (one-off and cron) and service hours, at exact instants."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config.cron import CronSchedule
from monitor.config.model import ServiceHours
from monitor.slo.exclusions import (
    Exclusions,
    MaintenanceWindow,
    in_service_hours,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")


def at(*args: int, tz: ZoneInfo = UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()  # type: ignore[arg-type,misc]


def test_cron_fields() -> None:
    c = CronSchedule.parse("0 2 * * sun")
    assert c.minutes == {0}
    assert c.hours == {2}
    assert c.weekdays == {0}
    c = CronSchedule.parse("*/15 1-3 1,15 jan-mar 7")
    assert c.minutes == {0, 15, 30, 45}
    assert c.hours == {1, 2, 3}
    assert c.days == {1, 15}
    assert c.months == {1, 2, 3}
    assert c.weekdays == {0}
    assert CronSchedule.parse("5/20 * * * *").minutes == {5, 25, 45}


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 2 * *", "5 fields"),
        ("60 * * * *", "out of range for minute"),
        ("0 2 * * funday", "not a valid day of week"),
        ("*/0 * * * *", "step must be a positive number"),
    ],
)
def test_cron_errors(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CronSchedule.parse(expr)


def test_cron_day_fields_or_when_both_restricted() -> None:
    c = CronSchedule.parse("0 0 1 * mon")
    assert c.matches(datetime(2026, 11, 1))  # the 1st, a Sunday
    assert c.matches(datetime(2026, 11, 2))  # a Monday
    assert not c.matches(datetime(2026, 11, 3))


def test_recurring_window_sunday_2am_for_2h_in_shanghai() -> None:
    w = MaintenanceWindow(
        "weekly", cron=CronSchedule.parse("0 2 * * sun"), duration_seconds=7200, tz="Asia/Shanghai"
    )
    # 2026-11-29 is a Sunday.
    assert not w.active_at(at(2026, 11, 29, 1, 59, 59, tz=SH))
    assert w.active_at(at(2026, 11, 29, 2, 0, tz=SH))
    assert w.active_at(at(2026, 11, 29, 3, 59, 59, tz=SH))
    assert not w.active_at(at(2026, 11, 29, 4, 0, tz=SH))
    assert not w.active_at(at(2026, 11, 28, 2, 30, tz=SH))  # Saturday
    occ = list(w.occurrences(at(2026, 11, 1, tz=SH), at(2026, 12, 1, tz=SH)))
    assert [datetime.fromtimestamp(b, SH).day for b, _ in occ] == [1, 8, 15, 22, 29]
    assert all(e - b == 7200 for b, e in occ)


def test_window_spanning_midnight_and_clipping() -> None:
    w = MaintenanceWindow("nightly", cron=CronSchedule.parse("30 23 * * *"), duration_seconds=3600)
    assert w.active_at(at(2026, 11, 10, 0, 15))
    assert not w.active_at(at(2026, 11, 10, 0, 30))
    occ = list(w.occurrences(at(2026, 11, 10), at(2026, 11, 11)))
    assert occ == [
        (at(2026, 11, 10), at(2026, 11, 10, 0, 30)),
        (at(2026, 11, 10, 23, 30), at(2026, 11, 11)),
    ]


def test_one_off_window_and_scope() -> None:
    w = MaintenanceWindow(
        "upgrade", start=at(2026, 11, 3, 1), end=at(2026, 11, 3, 3), channels=frozenset({"app"})
    )
    ex = Exclusions(maintenance=[w])
    assert ex.reason("app", "app-api", at(2026, 11, 3, 2)) == "maintenance:upgrade"
    assert ex.reason("website", "web", at(2026, 11, 3, 2)) is None
    assert not ex.is_excluded("app", "app-api", at(2026, 11, 3, 3))
    assert ex.maintenance_in(at(2026, 11, 1), at(2026, 12, 1), "app") == [
        ("upgrade", at(2026, 11, 3, 1), at(2026, 11, 3, 3))
    ]
    assert ex.maintenance_in(at(2026, 11, 1), at(2026, 12, 1), "website") == []
    with pytest.raises(ValueError, match="either start/end or cron"):
        MaintenanceWindow("bad")
    with pytest.raises(ValueError, match="needs a duration"):
        MaintenanceWindow("bad", cron=CronSchedule.parse("* * * * *"))


BRANCH = ServiceHours(days=frozenset(range(6)), start="09:00", end="17:00", tz="Asia/Shanghai")


def test_branch_service_hours_mon_sat_9_to_17_shanghai() -> None:
    assert in_service_hours(at(2026, 11, 28, 9, 0, tz=SH), BRANCH)  # Saturday
    assert in_service_hours(at(2026, 11, 27, 16, 59, tz=SH), BRANCH)
    assert not in_service_hours(at(2026, 11, 27, 17, 0, tz=SH), BRANCH)
    assert not in_service_hours(at(2026, 11, 27, 8, 59, tz=SH), BRANCH)
    assert not in_service_hours(at(2026, 11, 29, 12, 0, tz=SH), BRANCH)  # Sunday
    # 01:00 UTC is 09:00 in Shanghai.
    assert in_service_hours(at(2026, 11, 27, 1, 0), BRANCH)
    ex = Exclusions(service_hours={"branch": BRANCH})
    assert ex.reason("branch", "core", at(2026, 11, 29, 12, 0, tz=SH)) == "service_hours"
    assert ex.reason("app", "api", at(2026, 11, 29, 12, 0, tz=SH)) is None


def test_overnight_service_hours_belong_to_the_starting_day() -> None:
    night = ServiceHours(days=frozenset({4}), start="22:00", end="06:00")  # Friday night
    assert in_service_hours(at(2026, 11, 27, 23, 0), night)  # Friday
    assert in_service_hours(at(2026, 11, 28, 5, 59), night)  # Saturday morning
    assert not in_service_hours(at(2026, 11, 28, 23, 0), night)
    assert not in_service_hours(at(2026, 11, 27, 5, 0), night)  # Friday morning: Thu's span
    all_day = ServiceHours(days=frozenset({0}), start="00:00", end="24:00")
    assert in_service_hours(at(2026, 11, 30, 23, 59), all_day)


def test_closed_hours_as_spans() -> None:
    from monitor.slo.exclusions import outside_service_hours

    # Friday 2026-11-27 to Monday 2026-11-30, Shanghai time; open Mon-Sat 09:00-17:00.
    start, end = at(2026, 11, 27, tz=SH), at(2026, 11, 30, 12, tz=SH)
    assert outside_service_hours(BRANCH, start, end) == [
        (at(2026, 11, 27, tz=SH), at(2026, 11, 27, 9, tz=SH)),
        (at(2026, 11, 27, 17, tz=SH), at(2026, 11, 28, 9, tz=SH)),
        (at(2026, 11, 28, 17, tz=SH), at(2026, 11, 30, 9, tz=SH)),
    ]
    ex = Exclusions(service_hours={"branch": BRANCH})
    assert len(ex.excluded_spans("branch", "core", start, end)) == 3
    assert ex.excluded_spans("app", "api", start, end) == []


@settings(max_examples=60, deadline=None)
@given(
    expr=st.sampled_from(["0 2 * * sun", "*/20 1-3 * * *", "30 23 1,15 * *", "5 * * * mon-fri"]),
    duration_minutes=st.integers(1, 180),
    t=st.floats(at(2026, 1, 1), at(2027, 1, 1)),
)
def test_active_at_agrees_with_a_brute_force_scan(
    expr: str, duration_minutes: int, t: float
) -> None:
    cron = CronSchedule.parse(expr)
    window = MaintenanceWindow("w", cron=cron, duration_seconds=duration_minutes * 60)
    minute = int(t // 60) * 60
    brute = any(
        cron.matches(datetime.fromtimestamp(minute - k * 60, UTC).replace(tzinfo=None))
        and t < minute - k * 60 + duration_minutes * 60
        for k in range(duration_minutes + 1)
    )
    assert window.active_at(t) == brute
