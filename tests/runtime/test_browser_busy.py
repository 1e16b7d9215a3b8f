"""A check omniwatch could not run (no browser page slot in time) is no result.

The probe function is a stand-in that raises :class:`~probes.result.NotRun` as the browser
probe does when its slots stay busy (that part is tested against a real Chromium in
``tests/probes/test_browser.py``): what is tested here is where a run that did not
happen goes — a skipped run, and nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

import aiohttp
import pytest

from monitor.cli.probe import run_probe
from monitor.config import parse_config
from monitor.config.model import HttpSpec, Target
from monitor.runtime.monitor import Monitor
from monitor.server.app import start_server
from monitor.store.sqlite import SqliteProbeStore
from probes import PROBES
from probes.context import ProbeContext
from probes.result import NOT_RUN_BROWSER_BUSY, NotRun, ProbeResult, failure
from probes.runner import run_target
from tests.servers import closed_port

BUSY = "the browser's 2 page slots stayed busy"


async def not_run(target: Target, ctx: ProbeContext) -> ProbeResult:
    raise NotRun(NOT_RUN_BROWSER_BUSY, BUSY)


@pytest.fixture
def busy_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``http`` probe cannot run (the registry is one dict, read at call time)."""
    monkeypatch.setitem(PROBES, "http", not_run)


def _target(confirm: int = 0) -> Target:
    return Target(name="web-home", channel="website", kind="http",
                  spec=HttpSpec(url=f"http://127.0.0.1:{closed_port()}/"),
                  timeout_seconds=1.0, confirm=confirm)


def _config(alerts: str = "") -> str:
    return (f"channels:\n  website:\n    targets:\n"
            f"      - {{name: web-home, probe: http, url: 'http://127.0.0.1:{closed_port()}/',"
            " interval: 1s, timeout: 1s}\n" + alerts)


async def test_the_runner_lets_not_run_through() -> None:
    with pytest.raises(NotRun) as raised:
        await run_target(_target(), ProbeContext(), not_run)
    assert (raised.value.reason, raised.value.message) == ("browser_busy", BUSY)


async def test_a_confirmation_that_cannot_run_keeps_the_failure_seen() -> None:
    calls = 0

    async def down_then_busy(target: Target, ctx: ProbeContext) -> ProbeResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            return failure("connect_refused", "connection refused", 0.01)
        raise NotRun(NOT_RUN_BROWSER_BUSY, BUSY)

    result = await run_target(_target(confirm=2), ProbeContext(), down_then_busy)
    assert (result.reason, result.attempts, calls) == ("connect_refused", 1, 2)


async def test_a_scheduled_run_that_cannot_run_is_a_skipped_run_only(
        busy_probe: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    mon = Monitor(parse_config(_config()), store=store)
    mon.start()
    try:
        with caplog.at_level(logging.WARNING, logger="omniwatch.monitor"):
            for _ in range(60):
                await asyncio.sleep(0.05)
                if mon.state.skipped_runs[("web-home", "browser_busy")]:
                    break
        assert store.buffered() == (0, 0)  # nothing for history, incidents or SLOs
        body = (await mon.metrics_body()).decode()
    finally:
        await mon.stop()
        store.close()
    assert mon.state.skipped_runs[("web-home", "browser_busy")] >= 1
    assert set(mon.state.skipped_runs) == {("web-home", "browser_busy")}
    st = mon.state.targets["web-home"]
    assert (st.attempts, sum(st.results.values())) == (0, 0)  # never observed
    assert ('omniwatch_probe_runs_skipped_total{channel="website",reason="browser_busy",'
            'target="web-home"}') in body
    skipped = [r for r in caplog.records if r.getMessage() == "probe_skipped"]
    assert {(r.target, r.reason) for r in skipped} == {  # type: ignore[attr-defined]
        ("web-home", "browser_busy")}
    assert not [r for r in caplog.records if r.getMessage() == "probe_failed"]


async def test_probe_endpoint_answers_503_with_retry_after(busy_probe: None) -> None:
    mon = Monitor(parse_config(_config()))
    runner, port = await start_server(mon, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/probe", params={"target": "web-home"}) as resp:
            status, retry, text = resp.status, resp.headers.get("Retry-After"), await resp.text()
    finally:
        await runner.cleanup()
    assert (status, retry) == (503, "1")
    assert text == ("web-home: not run: the browser's 2 page slots stayed busy; the target "
                    "was not probed, retry later\n")
    assert "web-home" not in mon.state.targets  # an ad-hoc look records nothing anyway


def test_cli_prints_not_run_and_exits_1(busy_probe: None,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(json=False, count=1)
    assert run_probe([_target()], args, 0.0) == 1
    out = capsys.readouterr().out
    assert out == "web-home: not run: the browser's 2 page slots stayed busy\n"


def test_cli_json_lists_runs_not_run(busy_probe: None,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(json=True, count=2)
    assert run_probe([_target()], args, 0.0) == 1
    out = json.loads(capsys.readouterr().out)
    assert out == {"targets": [], "not_run": [
        {"channel": "website", "target": "web-home", "kind": "http", "not_run": 2,
         "message": BUSY}]}
