"""Reloads in-process: the pure target diff, coalescing, and re-timing of changed intervals."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from monitor.config import parse_config
from monitor.config.model import Target
from monitor.runtime.reload import Coalescer, diff_targets
from monitor.runtime.scheduler import ProbeScheduler, first_slot_from, retimed_start

CONFIG = """
defaults: {interval: 10s, timeout: 1s}
channels:
  app:
    targets:
      - {name: a, probe: tcp, host: 127.0.0.1, port: 1}
      - {name: b, probe: tcp, host: 127.0.0.1, port: 2}
      - {name: c, probe: tcp, host: 127.0.0.1, port: 3}
      - {name: d, probe: tcp, host: 127.0.0.1, port: 4}
"""


def _targets(text: str = CONFIG) -> dict[str, Target]:
    return {t.name: t for t in parse_config(text).targets}


def test_diff_of_identical_configs_is_empty() -> None:
    old, new = _targets(), _targets()
    diff = diff_targets(old, new)
    assert diff.empty
    assert diff.unchanged == 4


def test_diff_sorts_added_removed_changed_and_retimed() -> None:
    old = _targets()
    new = dict(old)
    del new["a"]
    new["b"] = dataclasses.replace(old["b"], timeout_seconds=2.0)  # changed, same interval
    new["c"] = dataclasses.replace(old["c"], interval_seconds=30.0)  # changed and re-timed
    new["e"] = dataclasses.replace(old["d"], name="e")
    diff = diff_targets(old, new)
    assert diff.removed == ("a",)
    assert [t.name for t in diff.added] == ["e"]
    assert sorted(t.name for t in diff.changed) == ["b", "c"]
    assert [t.name for t in diff.retimed] == ["c"]
    assert diff.unchanged == 1  # d
    assert not diff.empty


def test_diff_sees_a_changed_address_and_a_moved_channel() -> None:
    old = _targets()
    text = CONFIG.replace("port: 4}", "port: 5}").replace(
        "      - {name: c, probe: tcp, host: 127.0.0.1, port: 3}\n", "") + (
        "  web:\n    targets:\n      - {name: c, probe: tcp, host: 127.0.0.1, port: 3}\n")
    diff = diff_targets(old, _targets(text))
    assert sorted(t.name for t in diff.changed) == ["c", "d"]
    assert diff.added == ()
    assert diff.removed == ()
    assert diff.retimed == ()


@pytest.mark.parametrize(("earliest", "anchor", "interval", "expected"), [
    (100.0, 3.0, 10.0, 103.0), (103.0, 3.0, 10.0, 103.0), (103.5, 3.0, 10.0, 113.0),
    (1.0, 3.0, 10.0, 3.0)])
def test_first_slot_from(earliest: float, anchor: float, interval: float,
                         expected: float) -> None:
    assert first_slot_from(earliest, anchor, interval) == pytest.approx(expected)


def test_a_retimed_target_waits_one_new_interval_after_its_last_run() -> None:
    # Last run at 1000.2 on the old interval; new interval 10 s, phase 3 s: the slot at
    # 1003 is too close (2.8 s), 1013 is the first one allowed.
    assert retimed_start(1000.5, 1000.2, 3.0, 10.0) == pytest.approx(1013.0)
    # Long after the last run, the next slot of the new series is fine.
    assert retimed_start(1000.5, 900.0, 3.0, 10.0) == pytest.approx(1003.0)
    assert retimed_start(1000.5, None, 3.0, 10.0) == pytest.approx(1003.0)


async def test_the_scheduler_retimes_without_an_early_run() -> None:
    fired = asyncio.Event()

    async def run(name: str, slot: float) -> None:
        fired.set()

    sched = ProbeScheduler(run)
    old = _targets("defaults: {interval: 1s, timeout: 1s}\nchannels: {app: {targets: "
                   "[{name: a, probe: tcp, host: 127.0.0.1, port: 1}]}}\n")["a"]
    sched.update(added=[old])
    sched.start()
    try:
        await fired.wait()
        last = sched.last_fired("a")
        assert last is not None
        new = dataclasses.replace(old, interval_seconds=7.0)
        sched.update(retimed=[new])
        nxt = sched.next_run("a")
        assert nxt is not None
        assert nxt >= last + 7.0
        # The phase is the new series' own: restarts and replicas agree on it.
        assert nxt == pytest.approx(first_slot_from(nxt, sched._jobs["a"][1], 7.0))
    finally:
        sched.shutdown()


async def test_requests_during_a_run_get_exactly_one_more_run() -> None:
    gate = asyncio.Event()
    started: list[int] = []

    async def job() -> int:
        started.append(len(started) + 1)
        await gate.wait()
        gate.clear()
        return len(started)

    co: Coalescer[int] = Coalescer(job)
    first = co.request()
    await asyncio.sleep(0)
    assert started == [1]
    burst = [co.request() for _ in range(50)]  # all while run 1 is going
    assert all(f is burst[0] for f in burst)
    gate.set()
    assert await first == 1
    await asyncio.sleep(0)
    assert started == [1, 2]
    late = co.request()  # while run 2 is going: one more, run 3
    gate.set()
    assert await burst[0] == 2
    await asyncio.sleep(0)
    gate.set()
    assert await late == 3
    await asyncio.sleep(0)
    assert co.runs == 3
    assert co.requests == 52
    assert not co.busy


async def test_a_failed_run_fails_only_its_requests() -> None:
    calls = 0

    async def job() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return calls

    co: Coalescer[int] = Coalescer(job)
    with pytest.raises(RuntimeError):
        await co.request()
    co.request()  # nobody awaits this one: its outcome must not be reported as lost
    assert await co.request() == 2
