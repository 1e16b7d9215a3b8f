"""The pure parts of the status snapshot and the badges: exact values, no server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from monitor.config.cron import CronSchedule
from monitor.config.model import ServiceHours
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome
from monitor.server import badges, status_build
from monitor.server.status_model import TargetCounts
from monitor.server.uptime import DAILY_BINS, HOURLY_BINS, bin_state, uptime
from monitor.slo.budget import Counts, SloSpec, evaluate
from monitor.slo.exclusions import MaintenanceWindow
from monitor.store.buckets import HISTOGRAM_BINS, BucketTotals

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC).timestamp()
HOUR = 3600


def bucket(start: float, good: int, total: int, excluded: int = 0) -> BucketTotals:
    return BucketTotals(int(start), good, total, 0, excluded, 0.0, (0,) * HISTOGRAM_BINS)


@pytest.mark.parametrize(("good", "total", "excluded", "state"), [
    (120, 120, 0, "up"), (118, 120, 0, "partial"), (0, 5, 0, "down"),
    (0, 0, 60, "excluded"), (0, 0, 0, "none"), (10, 10, 50, "up"), (0, 3, 50, "down"),
])
def test_bin_state(good: int, total: int, excluded: int, state: str) -> None:
    assert bin_state(good, total, excluded) == state


def test_uptime_bins_end_with_the_current_hour_and_day() -> None:
    this_hour = int(NOW) // HOUR * HOUR
    buckets = [bucket(this_hour, 59, 60), bucket(this_hour - HOUR, 0, 0, 60),
               bucket(this_hour - 47 * HOUR, 60, 60), bucket(this_hour - 48 * HOUR, 1, 9),
               bucket(this_hour - 89 * 86400, 3, 4)]
    up = uptime(buckets, NOW)
    assert len(up.hourly) == HOURLY_BINS
    assert len(up.daily) == DAILY_BINS
    assert up.hourly[-1].start == this_hour
    assert (up.hourly[-1].good, up.hourly[-1].total, up.hourly[-1].state) == (59, 60, "partial")
    # An hour of maintenance is excluded, never red.
    assert (up.hourly[-2].excluded, up.hourly[-2].state) == (60, "excluded")
    assert up.hourly[0].state == "up"
    assert up.hourly[0].start == this_hour - 47 * HOUR
    assert all(b.state == "none" for b in up.hourly[1:-2])
    today = datetime(2026, 12, 2, tzinfo=UTC).timestamp()
    assert up.daily[-1].start == today
    assert (up.daily[-1].good, up.daily[-1].total, up.daily[-1].excluded) == (59, 60, 60)
    # 48 hours back lies in the day before yesterday; 89 days back is the oldest bin.
    assert (up.daily[-3].good, up.daily[-3].total) == (61, 69)
    assert (up.daily[0].good, up.daily[0].total) == (3, 4)


def counts(total: int, down: int = 0, degraded: int = 0, pending: int = 0) -> TargetCounts:
    return TargetCounts(total, total - down - degraded - pending, degraded, down, pending)


@pytest.mark.parametrize(("c", "maintenance", "closed", "state"), [
    (counts(3), False, False, "up"),
    (counts(3, down=1), False, False, "degraded"),
    (counts(3, degraded=1), False, False, "degraded"),
    (counts(3, down=2, pending=1), False, False, "down"),
    (counts(2, pending=2), False, False, "unknown"),
    (counts(0), False, False, "unknown"),
    (counts(3, down=3), True, False, "maintenance"),
    (counts(3, down=3), False, True, "closed"),
])
def test_channel_state(c: TargetCounts, maintenance: bool, closed: bool, state: str) -> None:
    assert status_build.channel_state(c, maintenance, closed) == state


def test_worst_state_over_channels() -> None:
    assert status_build.worst(["up", "closed", "degraded"]) == "degraded"
    assert status_build.worst(["up", "maintenance"]) == "up"
    assert status_build.worst(["closed", "maintenance"]) == "maintenance"
    assert status_build.worst([]) == "unknown"


def test_availability_statuses() -> None:
    spec = SloSpec("app", objective=0.999)
    ok = evaluate(spec, {"30d": Counts(100_000, 100_000), "1h": Counts(100, 100)}, NOW)
    view = status_build.slo_availability(ok)
    assert (view.sli, view.budget_remaining, view.status, view.window) == (1.0, 1.0, "ok", "30d")
    assert view.burn_rates == {"5m": None, "1h": 0.0, "6h": None, "3d": None}
    # 200 bad of 100,000 spends the budget twice over, though nothing burns now.
    spent = evaluate(spec, {"30d": Counts(99_800, 100_000), "1h": Counts(100, 100)}, NOW)
    view = status_build.slo_availability(spent)
    assert view.budget_remaining == pytest.approx(-1.0)
    assert view.status == "exhausted"
    paging = evaluate(spec, {w: Counts(50, 100) for w in spec.windows}, NOW)
    assert status_build.slo_availability(paging).status == "page"
    empty = status_build.slo_availability(evaluate(spec, {}, NOW))
    assert (empty.sli, empty.budget_remaining, empty.status) == (None, None, "no_data")


def test_service_hours_text() -> None:
    hours = ServiceHours(days=frozenset(range(6)), start="09:00", end="17:00",
                         tz="Asia/Shanghai")
    assert status_build.service_hours_text(hours) == "mon-sat 09:00-17:00 Asia/Shanghai"
    odd = ServiceHours(days=frozenset({0, 2, 3, 6}), start="08:00", end="12:00")
    assert status_build.service_hours_text(odd) == "mon,wed-thu,sun 08:00-12:00 UTC"
    assert status_build.service_hours_text(None) is None


def test_maintenance_lines_keep_the_real_start_of_one_in_progress() -> None:
    nightly = MaintenanceWindow("nightly", cron=CronSchedule.parse("0 10 * * *"),
                                duration_seconds=HOUR, channels=frozenset({"branch"}))
    past = MaintenanceWindow("old", start=NOW - 10 * HOUR, end=NOW - 9 * HOUR)
    later = MaintenanceWindow("upgrade", start=NOW + 8 * 86400, end=NOW + 9 * 86400)
    lines = status_build.maintenance_lines([later, past, nightly], NOW)
    ten = datetime(2026, 12, 2, 10, tzinfo=UTC).timestamp()
    assert [(m.name, m.starts_at, m.active) for m in lines] == [
        ("nightly", ten + i * 86400, i == 0) for i in range(8)]
    assert lines[0].ends_at == ten + HOUR
    assert lines[0].channels == ("branch",)


def report(channel: str, match: int, mismatch: int = 0, dataset: str = "customers",
           error: str | None = None, **more: int) -> ConsistencyReport:
    c = {Outcome.MATCH: match, Outcome.MISMATCH: mismatch,
         **{Outcome(k): v for k, v in more.items()}}
    return ConsistencyReport(reference="branch", channel=channel, mode="full",
                             started_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
                             duration_seconds=1.0, objective=0.99, counts=c,
                             field_mismatches={"phone": mismatch, "name": 1 if mismatch else 0},
                             error=error, dataset=dataset)


def test_consistency_section() -> None:
    config = ConsistencyConfig(reference="branch", key=("customer_id",), fields=(),
                               sources=())
    datasets = [config]
    app = report("app", 981, 19, pending_sync=3, missing=0, extra=0)
    web = report("website", 1000)
    latest = {("customers", "app"): app, ("customers", "website"): web}
    section = status_build.consistency(datasets, latest, latest)
    assert section.objective == 0.99
    assert section.ratio == pytest.approx(1981 / 2000)
    (d,) = section.datasets
    assert d.ratio == pytest.approx(1981 / 2000)
    app_line = status_build.channel_consistency("app", app)
    assert (app_line.ratio, app_line.judged, app_line.inconsistent, app_line.pending,
            app_line.worst_field) == (0.981, 1000, 19, 3, "phone")
    assert status_build.channel_consistency("website", web).worst_field is None
    broken = status_build.channel_consistency("app", report("app", 0, error="connect: refused"))
    assert (broken.ratio, broken.judged, broken.error) == (None, None, "connect: refused")
    assert status_build.channel_consistency("mini", None).ratio is None
    # A failed channel makes the combined ratio unknown, never 0 or 1.
    failing = {**latest, ("customers", "app"): report("app", 0, error="x")}
    assert status_build.consistency(datasets, failing, failing).ratio is None


def test_alert_lines_keep_firing_unmuted_alerts_newest_first() -> None:
    def alert(name: str, status: str, fired: float | None, muted: tuple[str, ...] = ()
              ) -> dict[str, object]:
        return {"alertname": name, "status": status, "severity": "page",
                "labels": {"alertname": name, "channel": "app"},
                "annotations": {"summary": f"{name} happened"}, "active_since": 1.0,
                "fired_at": fired, "muted_by": list(muted)}

    lines = status_build.alert_lines([
        alert("Old", "firing", 10.0), alert("Pending", "pending", None),
        alert("Muted", "firing", 30.0, ("s1",)), alert("New", "firing", 20.0)])
    assert [(a.alertname, a.since, a.channel, a.target) for a in lines] == [
        ("New", 20.0, "app", None), ("Old", 10.0, "app", None)]
    assert lines[0].summary == "New happened"


def test_badge_text_is_measured_and_escaped() -> None:
    assert badges.text_width("iii") < badges.text_width("MMM")
    short, long = badges.badge("uptime", "1%", badges.GREEN), badges.badge(
        "uptime", "100% of a long value", badges.GREEN)
    width = [int(ET.fromstring(svg).get("width") or 0) for svg in (short, long)]
    assert width[0] < width[1]
    svg = ET.fromstring(badges.badge("a<b", 'x&"y"', badges.RED))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert [t.text for t in svg.findall(".//s:text", ns)][1::2] == ["a<b", 'x&"y"']
    assert svg.findtext("s:title", namespaces=ns) == 'a<b: x&"y"'


@pytest.mark.parametrize(("ratio", "text"), [
    (0.99912, "99.91%"), (0.999999, "99.99%"), (1.0, "100%"), (0.5, "50%"), (0.0, "0%")])
def test_percent_never_rounds_up_to_100(ratio: float, text: str) -> None:
    assert badges.percent(ratio) == text


@pytest.mark.parametrize(("ratio", "colour"), [
    (0.9995, badges.GREEN), (0.999, badges.GREEN), (0.995, badges.YELLOW),
    (0.99, badges.YELLOW), (0.98, badges.RED), (None, badges.GREY)])
def test_uptime_colour_by_objective(ratio: float | None, colour: str) -> None:
    assert badges.uptime_colour(ratio, 0.999) == colour


def test_each_dataset_keeps_its_own_objective() -> None:
    from monitor.server.page import render_page
    from monitor.server.status_model import plain
    from tests.server.page_fixture import status_document

    customers = ConsistencyConfig(reference="branch", key=("customer_id",), fields=(),
                                  sources=(), objective=0.99)
    accounts = ConsistencyConfig(reference="branch", key=("account_id",), fields=(),
                                 sources=(), objective=0.999, dataset="accounts")
    # 99.5% each: above the customers' 99%, below the accounts' 99.9%.
    latest = {("customers", "app"): report("app", 995, 5),
              ("accounts", "app"): report("app", 995, 5, dataset="accounts")}
    section = status_build.consistency([customers, accounts], latest, latest)
    assert [(d.name, d.objective) for d in section.datasets] == [
        ("customers", 0.99), ("accounts", 0.999)]
    doc = status_document()
    doc["consistency"] = plain(section)
    html = render_page(doc, "en")
    heading = html.split('<code>accounts</code>')[1].split("</table>")[0]
    assert "✕</span> missed" in heading
    assert "✓</span> met" not in heading
    assert "objective 99.9%" in heading
    assert "✓</span> met" in html.split('<code>customers</code>')[1].split("</table>")[0]
