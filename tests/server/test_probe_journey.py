"""``/probe?target=JOURNEY&debug=true``: the steps as the CLI shows them, and the journey
families in the metrics part; never a variable, an extracted value or a body."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from monitor.config.model import Channel, Config, HttpSpec, Target
from monitor.metrics.exposition import render_targets
from monitor.metrics.state import ProbeState
from monitor.runtime.monitor import Monitor
from monitor.server.app import debug_text, start_server
from probes.result import ProbeResult, StepResult
from tests.bankapi import ACCOUNT, PASSWORD, USER, Fault, bank_api
from tests.journey_support import SECRETS, bank, journey_target

TARGET = journey_target("http://127.0.0.1:9")
RESULT = ProbeResult(
    success=False, reason="http_status", duration_seconds=0.05, status_code=401,
    message='step "balance": status 401, expected 2xx', details={"step": "balance"},
    steps=(StepResult("login", True, "ok", 0.02, status_code=200),
           StepResult("balance", False, "http_status", 0.01, "status 401, expected 2xx", 401),
           StepResult("transfer", False, "skipped", 0.0, skipped=True),
           StepResult("cancel", False, "skipped", 0.0, skipped=True, final=True)))


def _debug(target: Target, result: ProbeResult) -> tuple[dict[str, object], str]:
    one = ProbeState()
    one.observe(target.channel, target.name, target.kind, result)
    text = debug_text(target, result, render_targets(one.targets.values()))
    head, _, body = text.partition("\n\nMetrics that would have been returned:\n")
    return json.loads(head.removeprefix("Probe result:\n")), body


def test_debug_lists_steps_in_the_http_style() -> None:
    facts, body = _debug(TARGET, RESULT)
    assert facts["reason"] == "http_status"
    assert facts["details"] == {"step": "balance"}
    steps = facts["steps"]
    assert isinstance(steps, list)
    assert steps[1] == {
        "name": "balance", "success": False, "reason": "http_status",
        "duration_seconds": 0.01, "status_code": 401, "message": "status 401, expected 2xx",
        "final": False, "skipped": False,
        "request": "GET http://127.0.0.1:9/api/accounts/{{ account }}/balance"}
    assert steps[3]["final"] is True
    assert steps[3]["skipped"] is True
    assert steps[3]["request"] == "DELETE http://127.0.0.1:9/api/transfers/{{ transfer_id }}"
    assert facts["measurements"] == {}
    assert ('omniwatch_journey_step_success{channel="app",target="app-transfer",'
            'step="balance"} 0') in body
    assert ('omniwatch_journey_step_skipped{channel="app",target="app-transfer",'
            'step="transfer"} 1') in body


def test_debug_never_shows_vars_or_header_templates_filled() -> None:
    facts, body = _debug(TARGET, RESULT)
    shown = json.dumps(facts) + body
    assert PASSWORD not in shown
    assert USER not in shown
    assert ACCOUNT not in shown
    assert "Authorization" not in shown  # no header, not even its template


def test_debug_of_an_http_target_is_unchanged() -> None:
    http = Target("app-api", "app", "http", HttpSpec(url="http://127.0.0.1:9/"))
    facts, body = _debug(http, ProbeResult(success=True, reason="ok", duration_seconds=0.01))
    assert "steps" not in facts
    assert "measurements" not in facts
    assert "omniwatch_journey" not in body


def test_probe_debug_against_the_bank() -> None:
    async def run() -> str:
        async with bank_api(bank(faults={"balance": Fault("bad_json")})) as api:
            target = journey_target(api.url)
            mon = Monitor(Config(channels=(Channel("app", targets=(target,)),)))
            runner, port = await start_server(mon, "127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as session, session.get(
                        f"http://127.0.0.1:{port}/probe",
                        params={"target": "app-transfer", "debug": "true"}) as resp:
                    assert resp.status == 200
                    return await resp.text()
            finally:
                await runner.cleanup()
                await mon.ctx.browsers.aclose()
    text = asyncio.run(run())
    head, _, body = text.partition("\n\nMetrics that would have been returned:\n")
    facts = json.loads(head.removeprefix("Probe result:\n"))
    assert facts["reason"] == "schema_mismatch"
    assert facts["details"]["step"] == "balance"
    assert [s["name"] for s in facts["steps"]] == ["login", "balance", "transfer", "cancel"]
    assert 'omniwatch_journey_step_duration_seconds_count{channel="app",' \
           'target="app-transfer",step="login"} 1' in body
    for secret in SECRETS:
        assert secret not in text
