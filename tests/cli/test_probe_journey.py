"""``omniwatch probe`` on journey and browser targets: a row per step, JSON steps, no secret.

The rendering is tested on hand-built results; the end-to-end tests walk the fake bank
(:mod:`tests.bankapi`) on port 0.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from monitor.cli.probe import Series, probe_all, render_table, summarise
from monitor.cli.probe_steps import summarise_steps
from monitor.config.model import BrowserSpec, BrowserStep, Target
from probes.result import ProbeResult, StepResult
from tests.bankapi import Fault, bank_api
from tests.journey_support import SECRETS, bank, journey_config, journey_target
from tests.procs import run_omniwatch

TARGET = journey_target("https://user:pw-in-url@bank.test")


def _step(name: str, seconds: float, ok: bool = True, **kw: object) -> StepResult:
    reason = str(kw.pop("reason", "ok" if ok else "http_status"))
    return StepResult(name, ok, reason, seconds, **kw)  # type: ignore[arg-type]


FAILED = ProbeResult(
    success=False, reason="schema_mismatch", duration_seconds=0.081,
    message='step "balance": \'currency\' is a required property', status_code=200,
    details={"step": "balance"},
    steps=(_step("login", 0.040, status_code=200),
           _step("balance", 0.021, False, reason="schema_mismatch", status_code=200,
                 message="'currency' is a required property"),
           StepResult("transfer", False, "skipped", 0.0, "balance failed", skipped=True),
           _step("cancel", 0.012, False, reason="http_status", status_code=404,
                 message="status 404, expected 2xx", final=True)))
SUCCEEDED = ProbeResult(
    success=True, reason="ok", duration_seconds=0.12, status_code=200,
    steps=(_step("login", 0.030, status_code=200), _step("balance", 0.010, status_code=200),
           _step("transfer", 0.050, status_code=200),
           _step("cancel", 0.020, status_code=200, final=True)))


def _lines(text: str) -> list[list[str]]:
    return [ln.split() for ln in text.splitlines()]


def test_table_has_an_indented_row_per_step_with_finally_marked() -> None:
    row = summarise(Series(TARGET, [FAILED]))
    text = render_table([row], repeated=False)
    lines = text.splitlines()
    assert lines[1].split()[:5] == ["app", "app-transfer", "failure", "schema_mismatch", "200"]
    steps = lines[2:6]
    assert [s.split()[:3] for s in steps] == [
        ["login", "ok", "200"], ["balance", "FAIL", "schema_mismatch"],
        ["transfer", "skipped", "-"], ["finally", "cancel", "FAIL"]]
    assert all(s.startswith(" ") for s in steps)  # indented under the target row
    assert steps[0].split()[3] == "40ms"
    assert steps[2].split()[3] == "-"  # a skipped step has no duration
    assert "'currency' is a required property" in steps[1]
    assert steps[2].rstrip().endswith("balance failed")
    assert "status 404, expected 2xx" in steps[3]
    # Step messages line up in one column, after LATENCY.
    starts = {s.index(m) for s, m in zip(steps[1:], (
        "'currency'", "balance failed", "status 404"), strict=True)}
    assert len(starts) == 1
    assert lines[-1] == f"app-transfer: {FAILED.message}"


def test_json_steps_carry_every_field_and_the_masked_request() -> None:
    row = summarise(Series(TARGET, [FAILED]))
    doc = json.loads(json.dumps(row, default=str))
    assert [s["name"] for s in doc["steps"]] == ["login", "balance", "transfer", "cancel"]
    balance = doc["steps"][1]
    assert {k: balance[k] for k in ("name", "success", "reason", "duration_seconds",
                                    "status_code", "message", "final", "skipped")} == {
        "name": "balance", "success": False, "reason": "schema_mismatch",
        "duration_seconds": 0.021, "status_code": 200,
        "message": "'currency' is a required property", "final": False, "skipped": False}
    assert doc["steps"][2]["skipped"] is True
    assert doc["steps"][3]["final"] is True
    # The configured template: placeholders stay, URL user-info goes.
    assert doc["steps"][3]["request"] == (
        "DELETE https://bank.test/api/transfers/{{ transfer_id }}")
    assert doc["details"] == {"step": "balance"}
    assert doc["measurements"] == {}


def test_count_gives_each_step_its_own_ratio_and_percentiles() -> None:
    results = [SUCCEEDED, FAILED, SUCCEEDED]
    steps = {s["name"]: s for s in summarise_steps(TARGET, results)}
    assert (steps["transfer"]["runs"], steps["transfer"]["ran"],
            steps["transfer"]["succeeded"]) == (3, 2, 2)
    assert steps["transfer"]["duration_p50_seconds"] == pytest.approx(0.05)
    assert steps["login"]["duration_p50_seconds"] == pytest.approx(0.030)
    assert steps["login"]["duration_p95_seconds"] == pytest.approx(0.039)
    text = render_table([summarise(Series(TARGET, results))], repeated=True)
    lines = _lines(text)
    assert lines[0][:8] == ["CHANNEL", "TARGET", "RESULT", "REASON", "STATUS", "OK", "P50",
                            "P95"]
    assert lines[1][:3] == ["app", "app-transfer", "success"]
    assert lines[2] == ["login", "ok", "200", "3/3", "30ms", "39ms"]
    assert lines[4] == ["transfer", "ok", "200", "2/3", "50ms", "50ms"]


def test_a_step_that_never_ran_has_no_percentiles() -> None:
    (transfer,) = [s for s in summarise_steps(TARGET, [FAILED]) if s["name"] == "transfer"]
    assert transfer["duration_p50_seconds"] is None
    text = render_table([summarise(Series(TARGET, [FAILED, FAILED]))], repeated=True)
    assert _lines(text)[4][:6] == ["transfer", "skipped", "-", "0/2", "-", "-"]


def test_http_rows_are_unchanged() -> None:
    http = Target("app-api", "app", "http", TARGET.spec.steps[0].request)  # type: ignore[union-attr]
    row = summarise(Series(http, [ProbeResult(success=True, reason="ok",
                                              duration_seconds=0.01, status_code=200)]))
    assert "steps" not in row
    assert "measurements" not in row
    assert len(render_table([row], repeated=False).splitlines()) == 2


def test_browser_measurements_and_screenshot_are_shown() -> None:
    web = Target("web-home", "website", "browser", BrowserSpec((
        BrowserStep("open", "goto", url="https://web.test/?u={{ user }}"),
        BrowserStep("sign-in", "fill", selector="#password", value="{{ password }}"),
        BrowserStep("clean", "expect_no_console_errors"))))
    result = ProbeResult(
        success=False, reason="console_error", duration_seconds=1.4,
        message="the page logged 1 error", details={"step": "clean",
                                                    "screenshot": "/var/shots/web-home-1.png"},
        measurements={"ttfb_seconds": 0.05, "fcp_seconds": 0.31, "cls": 0.0123},
        steps=(_step("open", 0.9), _step("sign-in", 0.2),
               _step("clean", 0.0, False, reason="console_error",
                     message="the page logged 1 error")))
    row = summarise(Series(web, [result]))
    assert [s["request"] for s in row["steps"]] == [  # type: ignore[attr-defined]
        "goto https://web.test/?u={{ user }}", "fill #password", "expect_no_console_errors"]
    text = render_table([row], repeated=False)
    assert "web-home: screenshot /var/shots/web-home-1.png" in text
    assert "web-home: ttfb 50ms, fcp 310ms, cls 0.0123" in text


# --- end to end against the fake bank ---------------------------------------------------

def test_probe_walks_the_bank_and_shows_no_secret() -> None:
    async def run() -> list[Series]:
        async with bank_api(bank(faults={"balance": Fault("bad_json")})) as api:
            series, interrupted = await probe_all([journey_target(api.url)], 2, 0.0, False)
        assert not interrupted
        return series
    (series,) = asyncio.run(run())
    row = summarise(series)
    assert row["reason"] == "schema_mismatch"
    assert row["details"]["step"] == "balance"  # type: ignore[index]
    steps = row["steps"]
    assert isinstance(steps, list)
    assert [(s["name"], s["success"], s["skipped"], s["final"]) for s in steps] == [
        ("login", True, False, False), ("balance", False, False, False),
        ("transfer", False, True, False), ("cancel", False, True, True)]
    shown = render_table([row], repeated=True) + json.dumps(row, default=str)
    for secret in SECRETS:
        assert secret not in shown


def test_probe_command_on_a_configured_journey(tmp_path: Path) -> None:
    async def run() -> tuple[str, str]:
        async with bank_api(bank()) as api:
            cfg = tmp_path / "omniwatch.yaml"
            cfg.write_text(journey_config(api.url))
            table = await asyncio.to_thread(
                run_omniwatch, "probe", "-c", str(cfg), "--target", "app-transfer")
            as_json = await asyncio.to_thread(
                run_omniwatch, "probe", "-c", str(cfg), "--target", "app-transfer", "--json")
        assert table.returncode == 0, table.stderr
        assert as_json.returncode == 0, as_json.stderr
        assert len(api.cancellations) == 2  # finally ran, with the extracted id
        return table.stdout, as_json.stdout
    table, as_json = asyncio.run(run())
    lines = _lines(table)
    assert lines[1][:3] == ["app", "app-transfer", "success"]
    assert [ln[0] for ln in lines[2:5]] == ["login", "balance", "transfer"]
    assert lines[5][:3] == ["finally", "cancel", "ok"]
    (row,) = json.loads(as_json)["targets"]
    assert [s["name"] for s in row["steps"]] == ["login", "balance", "transfer", "cancel"]
    for secret in SECRETS:
        assert secret not in table
        assert secret not in as_json
