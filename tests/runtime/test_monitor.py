"""The monitor in-process: scheduling spread, isolation of hung targets, reloads."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.config import parse_config
from monitor.runtime.monitor import Monitor
from monitor.runtime.scheduler import SLOT_SECONDS, phase_offset, slot_time
from tests.servers import echo, hang, tcp_server


@given(st.text(min_size=1, max_size=40), st.floats(min_value=1, max_value=86400))
def test_phase_offset_is_stable_and_inside_the_interval(name: str, interval: float) -> None:
    offset = phase_offset(name, interval)
    assert offset == phase_offset(name, interval)
    assert 0 <= offset < interval
    assert abs(offset / SLOT_SECONDS - round(offset / SLOT_SECONDS)) < 1e-6


def test_phase_offsets_spread_targets_over_the_interval() -> None:
    offsets = [phase_offset(f"target-{i}", 30.0) for i in range(10_000)]
    per_second = [0] * 30
    for o in offsets:
        per_second[int(o)] += 1
    # 333 per second on average; a hash spread stays well within +-25%.
    assert min(per_second) > 250
    assert max(per_second) < 420


@pytest.mark.parametrize(
    ("now", "anchor", "interval", "expected"),
    [(100.0, 3.0, 10.0, 93.0), (93.0, 3.0, 10.0, 93.0), (2.0, 3.0, 10.0, 3.0),
     (1e9 + 0.25, 0.5, 30.0, 1e9 - 29.5)],
)
def test_slot_time(now: float, anchor: float, interval: float, expected: float) -> None:
    assert slot_time(now, anchor, interval) == pytest.approx(expected)


def _config(hang_port: int, echo_port: int, extra: str = "", cap: int = 8) -> str:
    return f"""
scheduler: {{max_concurrency: {cap}}}
defaults: {{interval: 1s, timeout: 900ms}}
channels:
  branch:
    targets:
      - {{name: hung, probe: tcp, host: 127.0.0.1, port: {hang_port}, send: "PING\\n",
         expect: {{regex: PONG}}}}
      - {{name: good-1, probe: tcp, host: 127.0.0.1, port: {echo_port}}}
      - {{name: good-2, probe: tcp, host: 127.0.0.1, port: {echo_port}}}
      - {{name: good-3, probe: tcp, host: 127.0.0.1, port: {echo_port}}}
{extra}"""


async def test_a_hung_target_costs_one_slot_and_stalls_nothing() -> None:
    async with tcp_server(hang) as hung, tcp_server(echo) as good:
        # Two slots for four targets: the hung one may hold one, never both.
        mon = Monitor(parse_config(_config(hung.port, good.port, cap=2)))
        mon.start()
        peak = 0
        try:
            for _ in range(35):
                await asyncio.sleep(0.1)
                peak = max(peak, mon.state.in_flight)
        finally:
            await mon.stop()
        states = mon.state.targets
        for name in ("good-1", "good-2", "good-3"):
            assert states[name].results[("success", "ok")] >= 2, name
        assert states["hung"].results[("failure", "timeout")] >= 2
        assert peak <= 2
        assert mon.state.lateness.cumulative()[-1] >= 8


async def test_never_two_runs_of_one_target_at_once() -> None:
    async with tcp_server(hang) as hung, tcp_server(echo) as good:
        # The guard margin lets a probe run past its interval; the next run is skipped.
        text = _config(hung.port, good.port).replace("timeout: 900ms", "timeout: 1s")
        mon = Monitor(parse_config(text))
        mon.start()
        try:
            await asyncio.sleep(3.5)
        finally:
            await mon.stop()
        # Each run lasts a little over one interval, so the next slot finds it still going.
        assert mon.state.skipped_busy >= 1
        assert 1 <= mon.state.targets["hung"].attempts <= 2
        # Counted per target: only the hung one skips.
        assert {name for name, _ in mon.state.skipped_runs} == {"hung"}
        assert mon.state.skipped_runs[("hung", "busy")] == mon.state.skipped_busy


async def test_apply_adds_removes_and_keeps_state() -> None:
    async with tcp_server(hang) as hung, tcp_server(echo) as good:
        mon = Monitor(parse_config(_config(hung.port, good.port)))
        mon.start()
        try:
            await asyncio.sleep(1.2)
            before = mon.state.targets["good-1"].attempts
            assert before >= 1
            extra = (f"  app:\n    targets:\n      - {{name: new-one, probe: tcp, "
                     f"host: 127.0.0.1, port: {good.port}}}\n")
            new = _config(hung.port, good.port, extra).replace(
                f"      - {{name: good-3, probe: tcp, host: 127.0.0.1, port: {good.port}}}\n",
                "")
            mon.apply(parse_config(new))
            assert "good-3" not in mon.state.targets
            assert mon.state.targets["good-1"].attempts == before
            await asyncio.sleep(1.3)
        finally:
            await mon.stop()
        assert mon.state.targets["new-one"].attempts >= 1
        assert "good-3" not in mon.state.targets
        assert mon._targets_per_channel() == {"branch": 3, "app": 1}


async def test_probe_now_does_not_touch_the_record() -> None:
    async with tcp_server(echo) as good:
        mon = Monitor(parse_config(_config(good.port, good.port)))
        result = await mon.probe_now("good-1")
        assert result is not None
        assert result.success
        assert await mon.probe_now("http://127.0.0.1/") is None
        assert mon.state.targets == {}
