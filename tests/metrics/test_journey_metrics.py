"""Journey and browser families: per step, per flow, only for flow targets, forgotten on
reload, parsed by prometheus_client and checked by promtool."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config.model import (
    BrowserSpec,
    BrowserStep,
    Channel,
    Config,
    HttpSpec,
    JourneySpec,
    JourneyStep,
    Target,
)
from monitor.metrics.exposition import FLOW_FAMILIES, render_targets
from monitor.metrics.state import FLOW_BUCKETS, STEP_BUCKETS, ProbeState, step_names
from monitor.runtime.monitor import Monitor
from probes.result import ProbeResult, StepResult
from tests.support import require

Key = tuple[str, frozenset[tuple[str, str]]]
APP = (("channel", "app"), ("target", "app-transfer"))


def k(name: str, *labels: tuple[str, str], **more: str) -> Key:
    return name, frozenset([*labels, *more.items()])


def _samples(text: str) -> dict[Key, float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _ok(name: str, seconds: float, final: bool = False) -> StepResult:
    return StepResult(name, True, "ok", seconds, status_code=200, final=final)


def _skipped(name: str) -> StepResult:
    return StepResult(name, False, "skipped", 0.0, skipped=True)


def _journey(*steps: StepResult, success: bool | None = None, duration: float = 0.3,
             degraded: bool = False, measurements: dict[str, float] | None = None
             ) -> ProbeResult:
    ok = all(s.success for s in steps if not s.final) if success is None else success
    failing = next((s for s in steps if not s.success and not s.skipped), None)
    return ProbeResult(
        success=ok, reason="ok" if ok else (failing.reason if failing else "timeout"),
        duration_seconds=duration, started_at=1_700_000_000.0, steps=steps, degraded=degraded,
        details={} if failing is None else {"step": failing.name},
        measurements=measurements or {})


FAILED_AT_BALANCE = _journey(
    _ok("login", 0.04),
    StepResult("balance", False, "body_mismatch", 0.02, "$.currency: missing", 200),
    _skipped("transfer"),
    _ok("cancel", 0.01, final=True),
)
SUCCEEDED = _journey(_ok("login", 0.03), _ok("balance", 0.015), _ok("transfer", 0.2),
                     _ok("cancel", 0.012, final=True), duration=0.26)


def _state(*results: ProbeResult, kind: str = "journey") -> ProbeState:
    state = ProbeState()
    for r in results:
        state.observe("app", "app-transfer", kind, r)
    return state


def test_step_gauges_follow_the_last_run_and_skips_are_told_apart() -> None:
    s = _samples(render_targets(_state(SUCCEEDED, FAILED_AT_BALANCE).targets.values()))
    success = {st: s[k("omniwatch_journey_step_success", *APP, step=st)]
               for st in ("login", "balance", "transfer", "cancel")}
    assert success == {"login": 1, "balance": 0, "transfer": 0, "cancel": 1}
    skipped = {st: s[k("omniwatch_journey_step_skipped", *APP, step=st)]
               for st in ("login", "balance", "transfer", "cancel")}
    assert skipped == {"login": 0, "balance": 0, "transfer": 1, "cancel": 0}


def test_step_histograms_count_steps_that_ran_and_flow_time_only_successes() -> None:
    s = _samples(render_targets(_state(SUCCEEDED, FAILED_AT_BALANCE).targets.values()))
    name = "omniwatch_journey_step_duration_seconds"
    assert s[k(f"{name}_count", *APP, step="login")] == 2
    assert s[k(f"{name}_sum", *APP, step="login")] == pytest.approx(0.07)
    assert s[k(f"{name}_bucket", *APP, step="login", le="0.025")] == 0
    assert s[k(f"{name}_bucket", *APP, step="login", le="0.05")] == 2
    assert s[k(f"{name}_count", *APP, step="transfer")] == 1  # skipped in the failed run
    assert s[k(f"{name}_bucket", *APP, step="transfer", le="+Inf")] == 1
    assert s[k(f"{name}_count", *APP, step="cancel")] == 2  # finally steps are steps
    flow = "omniwatch_journey_duration_seconds"
    assert s[k(f"{flow}_count", *APP)] == 1
    assert s[k(f"{flow}_sum", *APP)] == pytest.approx(0.26)
    assert s[k(f"{flow}_bucket", *APP, le="0.25")] == 0
    assert s[k(f"{flow}_bucket", *APP, le="0.5")] == 1
    les = {dict(key[1])["le"] for key in s if key[0] == f"{flow}_bucket"}
    assert len(les) == len(FLOW_BUCKETS) + 1
    assert "300.0" in les
    les = {dict(key[1])["le"] for key in s if key[0] == f"{name}_bucket"}
    assert len(les) == len(STEP_BUCKETS) + 1
    assert {"0.005", "30.0"} <= les


def test_a_flow_target_before_any_success_exports_an_empty_flow_histogram() -> None:
    s = _samples(render_targets(_state(FAILED_AT_BALANCE).targets.values()))
    assert s[k("omniwatch_journey_duration_seconds_count", *APP)] == 0


def test_degraded_runs_are_successful_runs_of_the_flow() -> None:
    slow = _journey(_ok("login", 2.0), duration=2.0, degraded=True)
    s = _samples(render_targets(_state(slow).targets.values()))
    assert s[k("omniwatch_journey_duration_seconds_count", *APP)] == 1


def test_browser_timings_and_cls_from_the_last_run() -> None:
    measured = _journey(
        _ok("open", 0.8), _ok("no-errors", 0.0),
        measurements={"ttfb_seconds": 0.05, "fcp_seconds": 0.3, "lcp_seconds": 0.45,
                      "dom_content_loaded_seconds": 0.35, "load_seconds": 0.6, "cls": 0.012})
    s = _samples(render_targets(_state(measured, kind="browser").targets.values()))
    timings = {t: s[k("omniwatch_browser_timing_seconds", *APP, timing=t)]
               for t in ("ttfb", "fcp", "lcp", "dom_content_loaded", "load")}
    assert timings == {"ttfb": 0.05, "fcp": 0.3, "lcp": 0.45, "dom_content_loaded": 0.35,
                       "load": 0.6}
    assert s[k("omniwatch_browser_cls", *APP)] == 0.012
    # A later run that never reached the page exposes no timings: none are left stale.
    crashed = _journey(StepResult("open", False, "browser_error", 0.1), success=False)
    state = _state(measured, crashed, kind="browser")
    text = render_targets(state.targets.values())
    assert "omniwatch_browser_timing_seconds{" not in text
    assert "omniwatch_browser_cls{" not in text


def test_a_target_that_is_not_a_flow_costs_nothing() -> None:
    state = ProbeState()
    http = ProbeResult(success=True, reason="ok", duration_seconds=0.01, status_code=200)
    state.observe("app", "app-api", "http", http)
    assert state.targets["app-api"].flow is None
    alone = render_targets(state.targets.values())
    for name, _, _ in FLOW_FAMILIES:
        assert name not in alone  # not even HELP/TYPE lines without a flow target
    state.observe("app", "app-transfer", "journey", SUCCEEDED)
    mixed = render_targets(state.targets.values())
    flow_lines = [ln for ln in mixed.splitlines()
                  if ln.startswith(("omniwatch_journey", "omniwatch_browser"))]
    assert flow_lines
    assert not any('target="app-api"' in ln for ln in flow_lines)
    for name, kind, _ in FLOW_FAMILIES:
        assert mixed.count(f"# TYPE {name} {kind}\n") == 1


def test_renamed_steps_disappear_with_the_next_run() -> None:
    renamed = _journey(_ok("sign-in", 0.04), _ok("balance", 0.01))
    text = render_targets(_state(SUCCEEDED, renamed).targets.values())
    assert 'step="sign-in"' in text
    for gone in ("login", "transfer", "cancel"):
        assert f'step="{gone}"' not in text


def _target(*names: str, final: tuple[str, ...] = ()) -> Target:
    def step(name: str) -> JourneyStep:
        return JourneyStep(name, HttpSpec(url=f"http://127.0.0.1:9/{name}"))
    return Target("app-transfer", "app", "journey",
                  JourneySpec(tuple(step(n) for n in names), tuple(step(n) for n in final)))


def test_step_names_of_flows_include_finally_steps() -> None:
    assert step_names(_target("login", "balance", final=("cancel",))) == (
        "login", "balance", "cancel")
    browser = Target("web", "website", "browser", BrowserSpec(
        (BrowserStep("open", "goto", url="http://127.0.0.1:9/"),
         BrowserStep("ok", "expect_no_console_errors"))))
    assert step_names(browser) == ("open", "ok")
    assert step_names(Target("a", "app", "http", HttpSpec(url="http://x/"))) is None


def test_a_reload_forgets_the_series_of_removed_steps_before_the_next_run() -> None:
    first = _target("login", "balance", "transfer", final=("cancel",))
    mon = Monitor(Config(channels=(Channel("app", targets=(first,)),)))
    mon.observe(first, SUCCEEDED)
    before = render_targets(mon.state.targets.values())
    assert 'step="transfer"' in before
    second = _target("login", "balance", final=("cancel",))
    mon.apply(Config(channels=(Channel("app", targets=(second,)),)))
    after = render_targets(mon.state.targets.values())
    assert 'step="transfer"' not in after  # neither its histogram nor its gauges
    assert ('omniwatch_journey_step_success{channel="app",target="app-transfer",'
            'step="balance"} 1') in after
    assert ('omniwatch_journey_step_duration_seconds_count{channel="app",'
            'target="app-transfer",step="cancel"} 1') in after


def test_probe_failed_log_names_the_step(caplog: pytest.LogCaptureFixture) -> None:
    target = _target("login", "balance", "transfer", final=("cancel",))
    mon = Monitor(Config(channels=(Channel("app", targets=(target,)),)))
    with caplog.at_level(logging.WARNING, logger="omniwatch.monitor"):
        mon.observe(target, FAILED_AT_BALANCE)
        mon.observe(Target("a", "app", "http", HttpSpec(url="http://x/")),
                    ProbeResult(success=False, reason="timeout", duration_seconds=5.0))
    journey, http = [r for r in caplog.records if r.getMessage() == "probe_failed"]
    assert journey.__dict__["step"] == "balance"
    assert journey.__dict__["reason"] == "body_mismatch"
    assert "step" not in http.__dict__


def test_step_names_are_escaped() -> None:
    odd = _journey(_ok('say "hi"\\now', 0.01))
    s = _samples(render_targets(_state(odd).targets.values()))
    assert s[k("omniwatch_journey_step_success", *APP, step='say "hi"\\now')] == 1


def test_the_cached_block_is_rendered_again_after_each_run() -> None:
    state = _state(SUCCEEDED)
    first = render_targets(state.targets.values())
    assert render_targets(state.targets.values()) == first
    state.observe("app", "app-transfer", "journey", FAILED_AT_BALANCE)
    again = render_targets(state.targets.values())
    assert again != first
    assert 'omniwatch_journey_step_skipped{channel="app",target="app-transfer",' \
           'step="transfer"} 1' in again


def test_metrics_body_with_journeys_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    assert promtool is not None
    journey = _target("login", "balance", "transfer", final=("cancel",))
    browser = Target("web-open", "website", "browser", BrowserSpec(
        (BrowserStep("open", "goto", url="http://127.0.0.1:9/"),)))
    http = Target("app-api", "app", "http", HttpSpec(url="http://127.0.0.1:9/"))
    pending = dataclasses.replace(_target("login"), name="not-run-yet")
    mon = Monitor(Config(channels=(Channel("app", targets=(journey, http, pending)),
                                   Channel("website", targets=(browser,)))))
    for t in (journey, http, pending, browser):  # as start() does, without a scheduler
        mon.state.ensure(t.channel, t.name, t.kind)
    mon.observe(journey, SUCCEEDED)
    mon.observe(journey, FAILED_AT_BALANCE)
    mon.observe(browser, _journey(
        _ok("open", 0.8), measurements={"ttfb_seconds": 0.05, "lcp_seconds": 0.4, "cls": 0.0}))
    mon.observe(http, ProbeResult(success=True, reason="ok", duration_seconds=0.01))
    body = asyncio.run(mon.metrics_body())
    assert b"omniwatch_browser_cls{" in body
    assert b'omniwatch_journey_duration_seconds_count{channel="app",target="not-run-yet"} 0' \
        in body
    check = subprocess.run([promtool, "check", "metrics"], input=body,
                           capture_output=True, timeout=30, check=False)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
