"""Journeys end to end: ``omniwatch run`` as a real process walking the fake bank
(:mod:`tests.bankapi`, served from a thread of the test), then ``omniwatch report
--journeys`` and ``omniwatch config validate`` as real commands.

A step is made to fail from the test through :attr:`BankApi.faults`; what the monitor
exports, logs and answers on ``/probe`` is read from outside, as an operator would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts.e2e_support import FAST_RULES, FAST_TIMING, Hook, running
from tests.bankapi import BankApi, Fault, bank_api_in_thread
from tests.journey_support import SECRETS, TRANSFER_PREFIX, bank, dump, journey_document
from tests.procs import OmniwatchProcess, run_omniwatch, wait_for

pytestmark = pytest.mark.slow

APP = {"channel": "app", "target": "app-transfer"}
STEPS = ("login", "balance", "transfer", "cancel")
Key = tuple[str, frozenset[tuple[str, str]]]


def key(name: str, **labels: str) -> Key:
    """A sample of app-transfer: ``name`` with ``labels`` over its channel and target."""
    return name, frozenset({**APP, **labels}.items())


def sample(proc: OmniwatchProcess, name: str, **labels: str) -> float | None:
    return proc.samples().get(key(name, **labels))


@pytest.fixture
def api() -> Iterator[BankApi]:
    with bank_api_in_thread(bank()) as served:
        yield served


def write(tmp_path: Path, api: BankApi, *, flush: str = "10s", balance_step: str = "balance",
          **sections: Any) -> Path:
    """The journey every second against ``api``, a SQLite store in ``tmp_path``, and
    top-level ``sections``."""
    doc = journey_document(api.url, interval="1s", timeout="1s", balance_step=balance_step)
    doc = {"store": {"sqlite": str(tmp_path / "omniwatch.db"), "flush_interval": flush},
           **doc, **sections}
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(dump(doc))
    return cfg


def assert_nothing_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# --- omniwatch run ------------------------------------------------------------------------


def test_run_exports_the_steps_and_names_the_failing_one(tmp_path: Path,
                                                         api: BankApi) -> None:
    with running(write(tmp_path, api), "run") as proc:
        wait_for(lambda: (sample(proc, "omniwatch_probes_total", result="success",
                                 reason="ok") or 0) >= 1, timeout=30)
        s = proc.samples()
        assert s[key("omniwatch_probe_success")] == 1
        for step in STEPS:
            assert s[key("omniwatch_journey_step_success", step=step)] == 1
            assert s[key("omniwatch_journey_step_skipped", step=step)] == 0
            assert s[key("omniwatch_journey_step_duration_seconds_count", step=step)] >= 1
        assert s[key("omniwatch_journey_duration_seconds_count")] >= 1
        # The bank did hand out the values the secrecy checks below look for.
        assert api.tokens_issued[0].endswith("-a9f3e1c7d2")
        assert api.cancellations[0].startswith(TRANSFER_PREFIX)

        api.faults["balance"] = Fault("refuse_token")
        wait_for(lambda: (sample(proc, "omniwatch_probes_total", result="failure",
                                 reason="http_status") or 0) >= 1, timeout=30)
        s = proc.samples()
        assert s[key("omniwatch_probe_success")] == 0
        assert s[key("omniwatch_journey_step_success", step="login")] == 1
        assert s[key("omniwatch_journey_step_success", step="balance")] == 0
        assert s[key("omniwatch_journey_step_skipped", step="balance")] == 0
        # transfer never ran, so cancel had no transfer_id: both skipped, neither failed.
        for step in ("transfer", "cancel"):
            assert s[key("omniwatch_journey_step_success", step=step)] == 0
            assert s[key("omniwatch_journey_step_skipped", step=step)] == 1

        failed = [e for e in proc.events() if e.get("event") == "probe_failed"]
        assert failed
        assert (failed[0]["target"], failed[0]["reason"], failed[0]["step"]) == (
            "app-transfer", "http_status", "balance")

        status, debug = proc.get("/probe?target=app-transfer&debug=true")
        assert status == 200
        head, _, _ = debug.partition("\n\nMetrics that would have been returned:\n")
        facts = json.loads(head.removeprefix("Probe result:\n"))
        assert (facts["reason"], facts["details"]) == ("http_status", {"step": "balance"})
        assert [(st["name"], st["skipped"]) for st in facts["steps"]] == [
            ("login", False), ("balance", False), ("transfer", True), ("cancel", True)]
        status, metrics = proc.get("/metrics")
        assert status == 200
    assert_nothing_secret(proc.log_path.read_text(), metrics, debug)


def test_a_reload_that_renames_a_step_drops_the_old_series(tmp_path: Path,
                                                            api: BankApi) -> None:
    cfg = write(tmp_path, api)
    with running(cfg, "reload") as proc:
        wait_for(lambda: sample(proc, "omniwatch_journey_step_success", step="balance") == 1,
                 timeout=30)
        write(tmp_path, api, balance_step="read-balance")
        assert proc.post("/-/reload") == (200, "reloaded\n")
        wait_for(lambda: sample(proc, "omniwatch_journey_step_success",
                                step="read-balance") == 1, timeout=30)
        s = proc.samples()
    assert not [k for k in s if ("step", "balance") in k[1]]
    assert s[key("omniwatch_journey_step_duration_seconds_count", step="read-balance")] >= 1
    assert s[key("omniwatch_journey_step_success", step="login")] == 1


# --- flow-time objectives -----------------------------------------------------------------

MAX = {"target": "app-transfer", "percentile": 50, "max": "4s"}
PLAN = {"target": "app-transfer", "percentile": 95, "baseline": "10s", "reduce_by": "30%",
        "by": "2099-06-01"}


def this_week(report: dict[str, Any], section: int) -> dict[str, Any]:
    """The row of the week holding now in an objective of a JSON report."""
    now = time.time()
    weeks: list[dict[str, Any]] = report["objectives"][section]["weeks"]
    (week,) = [w for w in weeks
               if datetime.fromisoformat(w["start"]).timestamp() <= now
               < datetime.fromisoformat(w["end"]).timestamp()]
    return week


def test_objectives_from_the_store_in_gauges_and_the_report(tmp_path: Path) -> None:
    # Every run waits 150 ms at transfer: a flow time well inside the first bins' error.
    with bank_api_in_thread(bank(faults={"transfer": Fault("slow", seconds=0.15)})) as api:
        cfg = write(tmp_path, api, flush="1s", journeys={"objectives": [MAX, PLAN]})
        proc = OmniwatchProcess(cfg)
        try:
            p50, p95 = {"percentile": "50"}, {"percentile": "95"}
            wait_for(lambda: sample(proc, "omniwatch_journey_objective_met", **p95) is not None,
                     timeout=30)
            s = proc.samples()
        finally:
            code = proc.stop()
    assert code == 0
    assert s[key("omniwatch_journey_duration_objective_seconds", **p50)] == 4.0
    assert s[key("omniwatch_journey_duration_objective_seconds", **p95)] == pytest.approx(7.0)
    for labels in (p50, p95):
        assert 0.1 < s[key("omniwatch_journey_duration_percentile_seconds", **labels)] < 1.0
        assert s[key("omniwatch_journey_objective_met", **labels)] == 1

    month = time.strftime("%Y-%m", time.gmtime())
    table = run_omniwatch("report", "--journeys", "--month", month, "-c", str(cfg))
    as_json = run_omniwatch("report", "--journeys", "--month", month, "-c", str(cfg),
                            "--format", "json")
    assert (table.returncode, table.stderr) == (0, "")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["all_on_track"] is True
    assert [(o["target"], o["kind"]) for o in report["objectives"]] == [
        ("app-transfer", "max"), ("app-transfer", "plan")]
    week = this_week(report, 0)
    assert week["runs"] > 0
    assert week["status"] == "on_track"
    assert "app / app-transfer  p50 <= 4.00s" in table.stdout
    assert "app / app-transfer  p95: 10.00s reduced 30% to 7.00s by 2099-06-01" in table.stdout
    row = [ln.split() for ln in table.stdout.splitlines() if ln.strip().startswith(week["week"])]
    assert len(row) == 2  # one per objective
    assert all(int(r[1]) == week["runs"] and r[-2:] == ["yes", "yes"] for r in row)

    # The same runs against a stricter objective: behind, exit 1.
    strict = {**MAX, "max": "50ms"}
    doc = yaml.safe_load(cfg.read_text())
    doc["journeys"] = {"objectives": [strict]}
    cfg.write_text(dump(doc))
    behind = run_omniwatch("report", "--journeys", "--month", month, "-c", str(cfg),
                           "--format", "json")
    assert behind.returncode == 1, behind.stderr
    report = json.loads(behind.stdout)
    assert report["all_on_track"] is False
    assert this_week(report, 0)["status"] == "behind"


# --- config validate, alerts --------------------------------------------------------------


def test_validate_names_file_path_and_the_unknown_variable(tmp_path: Path) -> None:
    doc = journey_document("http://127.0.0.1:9")
    doc["channels"]["app"]["targets"][0]["steps"][1]["request"]["headers"] = {
        "Authorization": "Bearer {{ tokn }}"}
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(dump(doc))
    done = run_omniwatch("config", "validate", str(cfg))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"error: {cfg}: channels.app.targets[0].steps[1].request.headers.Authorization: "
        "unknown variable 'tokn' (not in vars, and no step extracts it; did you mean "
        "'token'?)\n")


def target_down(hook: Hook) -> list[dict[str, Any]]:
    return [a for b in hook.bodies() for a in b["alerts"]
            if a["labels"]["alertname"] == "TargetDown"]


def test_target_down_names_the_failing_step(tmp_path: Path, api: BankApi) -> None:
    api.faults["balance"] = Fault("refuse_token")
    with Hook() as hook:
        cfg = write(tmp_path, api, alerts={**FAST_TIMING, "rules": FAST_RULES,
                                           "webhook": {"url": hook.url}})
        with running(cfg, "alerts") as proc:
            wait_for(lambda: target_down(hook), timeout=40)
            log = proc.log_path.read_text()
    alert = target_down(hook)[0]
    assert alert["status"] == "firing"
    assert alert["labels"]["target"] == "app-transfer"
    assert alert["annotations"]["reason"] == "http_status"
    assert "balance" in alert["annotations"]["detail"]
    assert_nothing_secret(json.dumps(hook.bodies()), log)
