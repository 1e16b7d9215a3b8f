"""The demo's parts on their own: seeded stores through the real consistency engine,
the branch's opening hours, the local Slack through slack-sdk, the event lines."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.consistency.jobs import ConsistencyState
from monitor.consistency.run import run_check
from monitor.demo.backends import Behaviour, SyntheticAccount
from monitor.demo.config import DemoPlan, branch_hours, demo_config
from monitor.demo.slack_sink import SlackEvent, SlackSink
from monitor.demo.stores import SEEDED, expected_ratio, seed_stores
from monitor.demo.terminal import Narrator, status_block
from monitor.metrics.state import ProbeState
from monitor.slo.bindings import evaluate_all, exclusions, slo_bindings
from monitor.slo.exclusions import in_service_hours
from monitor.store import open_store
from probes.result import ProbeResult


def _plan(tmp_path: Path, started_at: float) -> DemoPlan:
    ports = {name: 40000 + i for i, name in enumerate(("app", "website", "mini", "branch",
                                                       "gateway"))}
    return DemoPlan(ports=ports, stores=seed_stores(tmp_path), db=tmp_path / "history.db",
                    slack_api_url="http://127.0.0.1:1/api/", started_at=started_at,
                    behaviour=Behaviour(), account=SyntheticAccount())


def test_seeded_stores_give_the_ratios_they_promise(tmp_path: Path) -> None:
    config = demo_config(_plan(tmp_path, time.time()), "xoxb-demo-test")
    assert [c.dataset for c in config.consistency] == ["customers", "accounts"]
    for dataset in config.consistency:
        reports = {r.channel: r for r in run_check(dataset)}
        assert set(reports) == {"app", "website", "miniprogram"}
        for channel, report in reports.items():
            seeded = SEEDED[dataset.dataset][channel]
            assert report.error is None
            assert report.ratio == pytest.approx(expected_ratio(dataset.dataset, channel))
            counts = {o.value: n for o, n in report.counts.items() if n}
            # Normalised differences match; each real one is one mismatch.
            assert counts.get("mismatch", 0) == len(seeded.real)
            assert counts.get("pending_sync", 0) == len(seeded.pending)
            assert counts.get("missing", 0) == len(seeded.missing)
            assert counts.get("extra", 0) == len(seeded.extra)


def test_the_branch_is_open_at_the_start_and_closes_within_ninety_seconds(
        tmp_path: Path) -> None:
    for start in ("2026-12-02T04:10:05", "2026-12-02T04:10:59", "2026-12-02T23:59:20",
                  "2026-12-02T23:59:40", "2026-12-06T00:00:00"):
        t = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()
        hours = branch_hours(t)
        config = demo_config(_plan(tmp_path, t), "xoxb-demo-test")
        (branch,) = [c for c in config.channels if c.name == "branch"]
        assert branch.service_hours is not None
        closes = hours.closes.timestamp()
        assert in_service_hours(t, branch.service_hours)
        assert in_service_hours(closes - 1, branch.service_hours)
        if hours.text == "00:00-24:00 UTC":  # a start in the day's last half minute
            assert start == "2026-12-02T23:59:40"
            assert in_service_hours(closes + 1, branch.service_hours)
            continue
        # At least 30 s open (past the core's outage and its resolve), at most 90 s.
        assert 30 <= closes - t <= 90
        assert not in_service_hours(closes + 1, branch.service_hours)
        assert exclusions(config).reason("branch", "branch-core", closes + 1) == "service_hours"


async def test_the_local_slack_speaks_to_slack_sdk_and_reports_each_message() -> None:
    events: list[SlackEvent] = []
    sink = SlackSink(events.append)
    await sink.start()
    try:
        client = AsyncWebClient(token=sink.token, base_url=sink.api_url)
        assert (await client.auth_test())["ok"]
        posted = await client.chat_postMessage(channel="#branch-oncall",
                                               text="🔴 FIRING: TargetDown &amp; more\nline 2")
        await client.chat_postMessage(channel=posted["channel"], thread_ts=posted["ts"],
                                      text="✅ RESOLVED")
        await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")
        history = await client.conversations_history(channel=posted["channel"])
        assert [m["text"] for m in history["messages"]] == ["edited"]
        with pytest.raises(SlackApiError):
            await AsyncWebClient(token="xoxb-wrong", base_url=sink.api_url).auth_test()
    finally:
        await sink.close()
    assert events == [
        SlackEvent("post", "#branch-oncall", "🔴 FIRING: TargetDown & more\nline 2"),
        SlackEvent("reply", "#branch-oncall", "✅ RESOLVED"),
        SlackEvent("update", "#branch-oncall", "edited")]


def _result(success: bool, reason: str = "ok", message: str = "") -> ProbeResult:
    return ProbeResult(success=success, reason=reason, message=message, duration_seconds=0.01,
                       started_at=time.time())


def test_event_lines_say_what_changed_once(tmp_path: Path) -> None:
    out = io.StringIO()
    narrator = Narrator(out=out, clock=lambda: 0.0)
    state = ProbeState()
    excl = exclusions(demo_config(_plan(tmp_path, time.time()), "xoxb-demo-test"))
    results = [_result(True), _result(False, "http_status", "status 503, expected 200"),
               _result(False, "http_status", "status 503, expected 200"), _result(True),
               _result(True), _result(False, "timeout"), _result(True)]
    for r in results:
        state.observe("branch", "branch-core", "http", r)
        narrator.probes(state, excl)
    lines = [line.split("  ", 2)[2].strip() for line in out.getvalue().splitlines()]
    assert lines == [
        "branch-core (branch) failed: http_status: status 503, expected 200",
        "branch-core (branch) is up again after 2 failed probes",
        "branch-core (branch) failed: timeout"]  # a lone failure gets no "up again"


def test_consistency_lines_only_when_a_result_changes(tmp_path: Path) -> None:
    config = demo_config(_plan(tmp_path, time.time()), "xoxb-demo-test")
    out = io.StringIO()
    narrator = Narrator(out=out, clock=lambda: 0.0)
    state = ConsistencyState()
    for _ in range(2):
        state.keep(run_check(config.consistency[0]))
        state.runs += 1
        narrator.consistency(state)
    text = out.getvalue()
    assert text.count(" check ") == 3  # three channels, printed once
    assert "customers app vs branch: 97.990% BELOW 99.000% · 195/199 match · 2 mismatch " \
           "(name, phone) · 1 missing · 1 extra · 2 pending sync" in text


def test_the_status_block_has_a_row_per_channel(tmp_path: Path) -> None:
    config = demo_config(_plan(tmp_path, time.time()), "xoxb-demo-test")
    state = ProbeState()
    state.observe("website", "website-home", "http", _result(False, "http_status"))
    store = open_store(config.store)
    try:
        store.record("website", "website-home", _result(False, "http_status"), False)
        store.record("website", "website-home", _result(True), False)
        store.flush()
        now = time.time()
        statuses = evaluate_all(store, slo_bindings(config), now + 1)
    finally:
        store.close()
    text = status_block(now, 12, state, statuses, exclusions(config),
                        [c.name for c in config.channels])
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert set(rows) == {"app", "website", "miniprogram", "branch"}
    assert "SLI 50.000% · burn 500.0x · PAGE" in rows["website"]
    assert rows["website"].endswith("website-home failure")
    assert "SLO no data" in rows["app"]


def test_event_lines_are_stamped_in_utc_whatever_the_zone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The banner's opening hours and the Slack texts say UTC: the event lines beside them
    # must use the same clock, not the machine's zone.
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        out = io.StringIO()
        Narrator(out=out, clock=lambda: 3600.0).line("probe", "x")
        assert out.getvalue().startswith("01:00:00  probe")
    finally:
        monkeypatch.undo()
        time.tzset()
