"""When the alerting loop evaluates: at its interval, when a group is due, and soon after
the failure that confirms an alert; end to end, a confirmed failure reaches the local
Slack after group_wait, long before the next regular evaluation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from monitor.config.loader import parse_config
from monitor.consistency.jobs import ConsistencyState
from monitor.metrics.collectors import StoreHealth
from monitor.metrics.state import ProbeState
from monitor.runtime.alert_wake import NUDGE_SPACING_SECONDS, Wakeup, next_wake
from monitor.runtime.alerting import AlertingService
from monitor.slo.bindings import exclusions
from monitor.store import open_store
from probes.result import ProbeResult
from tests.slack_server import TOKEN, SlackServer


def test_the_next_evaluation_is_one_interval_on_or_when_a_group_is_due() -> None:
    assert next_wake(100.0, 5.0, None, 101.0) == 105.0
    assert next_wake(100.0, 5.0, 2.5, 101.0) == 103.5  # group_wait ends first
    assert next_wake(100.0, 5.0, 30.0, 101.0) == 105.0
    assert next_wake(100.0, 5.0, -1.0, 101.0) == 101.0  # overdue: now, never before
    assert next_wake(100.0, 5.0, None, 107.0) == 107.0  # a slow evaluation: at once


async def test_a_nudge_ends_the_pause_but_not_before_the_spacing() -> None:
    wakeup = Wakeup()
    loop = asyncio.get_running_loop()
    started = loop.time()
    asyncio.get_running_loop().call_soon(wakeup.nudge)
    await asyncio.wait_for(wakeup.pause(started, 60.0, None), 30)  # not the 60 s
    assert loop.time() - started >= NUDGE_SPACING_SECONDS - 0.01
    wakeup.clear()
    # Nudges are ignored when not asked for (a standby replica, a failing store).
    wakeup.nudge()
    started = loop.time()
    await wakeup.pause(started, 0.3, None, nudges=False)
    assert loop.time() - started >= 0.29


def _config(tmp_path: Path, slack: SlackServer) -> str:
    return f"""
store: {{sqlite: {tmp_path / "alerts.db"}}}
channels:
  app:
    targets:
      - {{name: api, probe: tcp, host: 127.0.0.1, port: 9}}
      - {{name: web, probe: tcp, host: 127.0.0.1, port: 9}}
      - {{name: www, probe: tcp, host: 127.0.0.1, port: 9}}
alerts:
  slack: {{token: "{TOKEN}", channel: "#channel-reliability", api_url: "{slack.api_url}"}}
  rules: {{target_down: {{after: 2}}}}
  group_wait: 1s
  evaluation_interval: 60s
"""


async def test_a_confirmed_failure_is_posted_after_group_wait_not_the_next_tick(
        tmp_path: Path, slack_server: SlackServer) -> None:
    config = parse_config(_config(tmp_path, slack_server))
    store = open_store(config.store)
    state = ProbeState()
    svc = AlertingService(config, store, probe_state=state, consistency=ConsistencyState(),
                          store_health=StoreHealth(), excluded=exclusions(config).reason)
    svc.start()
    try:
        await asyncio.wait_for(_until(lambda: svc.stats.evaluations >= 1), 30)
        for _ in range(2):  # the second counted failure confirms (after: 2)
            state.observe("app", "api", "tcp", ProbeResult(
                success=False, reason="connect_refused", duration_seconds=0.001,
                message="connection refused", started_at=time.time()))
            svc.counted_failure(state.targets["api"])
        confirmed = time.time()
        # Well before the next regular evaluation, 60 s after the first.
        await asyncio.wait_for(_until(lambda: slack_server.messages("#channel-reliability")),
                               30)
        post = slack_server.messages("#channel-reliability")[0]
        assert "TargetDown" in post.text
        assert "api" in post.text
        assert float(post.ts) - confirmed >= 1.0  # the group waited its group_wait
    finally:
        await svc.stop()
        store.close()


async def _until(pred: Callable[[], object]) -> None:
    for _ in range(1200):  # a minute at most: asyncio.wait_for bounds it sooner
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")
