"""The monthly SLA report: exact figures, then each renderer."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from monitor.config.cron import CronSchedule
from monitor.slo.exclusions import Exclusions, MaintenanceWindow
from monitor.slo.render import RENDERERS
from monitor.slo.report import (
    MonthlyReport,
    ReportScope,
    build_monthly_report,
    monthly_report,
    parse_month,
    subtract_spans,
)
from monitor.store.buckets import HISTOGRAM_BINS, BucketTotals, Incident
from probes.result import ProbeResult
from tests.stores import StoreFactory


def at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[arg-type,misc]


def totals(good: int, total: int, excluded: int = 0) -> BucketTotals:
    return BucketTotals(0, good, total, 0, excluded, 0.0, (0,) * HISTOGRAM_BINS)


SCOPES = [ReportScope("app", 0.999, (("app-api", 0.999), ("app-web", 0.995)))]
WEEKLY = MaintenanceWindow(
    "weekly",
    cron=CronSchedule.parse("0 2 * * sun"),
    duration_seconds=7200,
    targets=frozenset({"app-web"}),
)


def november() -> MonthlyReport:
    incidents = [
        Incident("app", "app-api", at(2026, 11, 3, 10), at(2026, 11, 3, 10, 30), "timeout"),
        Incident("app", "app-web", at(2026, 11, 3, 10, 15), at(2026, 11, 3, 10, 45), "http_status"),
        # Half inside the Sunday maintenance window: only 01:30-02:00 is downtime.
        Incident("app", "app-web", at(2026, 11, 8, 1, 30), at(2026, 11, 8, 2, 30), "tls"),
        Incident("app", "app-api", at(2026, 11, 30, 23, 50), None, "dns"),
    ]
    return build_monthly_report(
        "2026-11",
        SCOPES,
        {"app": totals(86300, 86400, 240)},
        {"app-api": totals(43150, 43200), "app-web": totals(43150, 43200, 240)},
        incidents,
        Exclusions(maintenance=[WEEKLY]),
        now=at(2026, 12, 2),
    )


def test_figures() -> None:
    report = november()
    [app] = report.channels
    api, web = app.targets
    assert api.achieved == pytest.approx(43150 / 43200)
    assert api.met is False
    assert web.met is True
    assert api.downtime_seconds == 40 * 60
    assert web.downtime_seconds == 60 * 60
    assert app.channel.downtime_seconds == (45 + 30 + 10) * 60  # union of the targets
    assert app.channel.excluded == 240
    assert [i.ongoing for i in api.incidents] == [False, True]
    assert api.incidents[1].end == at(2026, 12, 1)  # clipped to the month
    assert [m.start for m in app.maintenance] == [at(2026, 11, d, 2) for d in (1, 8, 15, 22, 29)]
    assert report.all_met is False


def test_no_data_is_not_met() -> None:
    report = build_monthly_report("2026-11", SCOPES, {}, {}, [], Exclusions(), now=at(2026, 11, 20))
    assert report.channels[0].channel.achieved is None
    assert report.channels[0].channel.met is None
    assert report.all_met is True  # nothing known to be missed


def test_renderers() -> None:
    report = november()
    table = RENDERERS["table"](report)
    assert "app      app-api  99.9%      99.8843%  NO   43200   0         0h40m00s  2" in table
    assert "app-api  2026-11-30T23:50:00+00:00 .. ongoing  0h10m00s  dns" in table
    assert "weekly  2026-11-01T02:00:00+00:00 .. 2026-11-01T04:00:00+00:00  2h00m00s" in table

    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](report))))
    assert [r["record"] for r in rows].count("availability") == 3
    assert [r["record"] for r in rows].count("incident") == 4
    assert [r["record"] for r in rows].count("maintenance") == 5
    assert rows[0]["downtime_seconds"] == "5100"

    doc = json.loads(RENDERERS["json"](report))
    assert doc["channels"][0]["targets"][0]["downtime_seconds"] == 2400
    assert doc["channels"][0]["targets"][0]["incidents"][1]["end"] is None
    assert doc["all_met"] is False

    page = RENDERERS["html"](report)
    assert page.startswith("<!DOCTYPE html>")
    assert '<tr class="target missed"><td>app</td><td>app-api</td>' in page


def test_spans_and_months() -> None:
    assert subtract_spans([(0, 10)], [(2, 3), (5, 20)]) == [(0, 2), (3, 5)]
    assert parse_month("2026-11") == (2026, 11)
    for bad in ("2026-13", "26-11", "november"):
        with pytest.raises(ValueError, match="not a month"):
            parse_month(bad)


def test_report_from_a_store(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: at(2026, 11, 20))
    t = at(2026, 11, 10, 8)
    for i in range(100):
        ok = i not in (10, 11)
        result = ProbeResult(ok, "ok" if ok else "timeout", 0.1, started_at=t + 30 * i)
        store.record("app", "app-api", result, excluded=False)
    store.record("app", "app-web", ProbeResult(True, "ok", 0.1, started_at=t), excluded=True)
    store.flush()
    report = monthly_report(store, "2026-11", SCOPES, Exclusions(), now=at(2026, 11, 20))
    api, web = report.channels[0].targets
    assert (api.good, api.total) == (98, 100)
    assert api.downtime_seconds == 60
    assert api.incidents[0].reason == "timeout"
    assert (web.total, web.excluded, web.achieved) == (0, 1, None)
