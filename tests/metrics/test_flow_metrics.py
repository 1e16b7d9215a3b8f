"""The flow-time objective gauges in a Monitor's ``/metrics``, read from its store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config.model import FlowObjective
from monitor.runtime.monitor import Monitor
from monitor.store.sqlite import SqliteProbeStore
from probes.result import ProbeResult, StepResult
from tests.slo.flow_seed import FIXED, PLAN, config

FAMILIES = ("omniwatch_journey_duration_objective_seconds",
            "omniwatch_journey_duration_percentile_seconds",
            "omniwatch_journey_objective_met")
STEPS = (StepResult("home", True, "ok", 0.1),)
UNPROBED = FlowObjective("web-account-opening", 50, max_seconds=900.0)


def samples(body: bytes) -> dict[str, dict[tuple[str, str, str], float]]:
    out: dict[str, dict[tuple[str, str, str], float]] = {f: {} for f in FAMILIES}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name in out:
                key = (s.labels["channel"], s.labels["target"], s.labels["percentile"])
                out[s.name][key] = s.value
    return out


async def test_objective_percentile_and_met_over_the_last_7_days(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    store = SqliteProbeStore(db)
    now = time.time()
    for i in range(10):
        for target, channel, d in (("app-transfer", "app", 3.0),
                                   ("web-account-opening", "website", 600.0)):
            store.record(channel, target,
                         ProbeResult(True, "ok", d, started_at=now - 3600 * i, steps=STEPS),
                         excluded=False)
    # Older than 7 days: outside the gauges' window.
    store.record("app", "app-transfer",
                 ProbeResult(True, "ok", 60.0, started_at=now - 8 * 86400, steps=STEPS),
                 excluded=False)
    store.flush()
    mon = Monitor(config(db, objectives=(PLAN, FIXED)), store=store)
    try:
        got = samples(await mon.metrics_body())
    finally:
        store.close()
    opening, transfer = ("website", "web-account-opening", "95"), ("app", "app-transfer", "50")
    assert got["omniwatch_journey_duration_objective_seconds"] == {
        opening: pytest.approx(504.0), transfer: 4.0}
    p = got["omniwatch_journey_duration_percentile_seconds"]
    assert 2.5 < p[transfer] <= 3.1
    assert 550 < p[opening] <= 656
    assert got["omniwatch_journey_objective_met"] == {opening: 0.0, transfer: 1.0}


async def test_no_runs_no_samples_and_a_store_down_no_families(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    store = SqliteProbeStore(db)
    mon = Monitor(config(db, objectives=(UNPROBED,)), store=store)
    try:
        got = samples(await mon.metrics_body())
    finally:
        store.close()
    key = ("website", "web-account-opening", "50")
    assert got["omniwatch_journey_duration_objective_seconds"] == {key: 900.0}
    assert got["omniwatch_journey_duration_percentile_seconds"] == {}
    assert got["omniwatch_journey_objective_met"] == {}

    missing = str(tmp_path / "no-such-dir" / "h.db")
    down = SqliteProbeStore(missing, lazy=True)
    mon = Monitor(config(missing, objectives=(UNPROBED,)), store=down)
    body = await mon.metrics_body()
    assert not any(f in body.decode() for f in FAMILIES)
    assert b"omniwatch_slo_data_stale 1.0" in body
