"""The pure plan of scheduled runs: whole first, incremental between, whole every full_every;
and the overall ratio the collector exports over datasets."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from monitor.config.consistency import build_datasets
from monitor.consistency.jobs import ConsistencyRunner, ConsistencyState
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome, SourceConfig
from monitor.consistency.schedule import PlannedRun, ScheduleState, after_run, plan_run
from monitor.metrics.consistency import ConsistencyCollector, overall

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CFG = ConsistencyConfig(reference="a", key=("customer_id",), fields=(),
                        sources=(SourceConfig("a", "http"), SourceConfig("b", "http")),
                        mode="checksum", schedule_mode="incremental", full_every_seconds=100)


def report(mode: str, match: int = 9, mismatch: int = 1, dataset: str = "customers",
           channel: str = "b", error: str | None = None,
           watermark: datetime | None = T0) -> ConsistencyReport:
    return ConsistencyReport(reference="a", channel=channel, mode=mode, started_at=T0,
                             duration_seconds=1.0, objective=0.99, error=error,
                             counts={Outcome.MATCH: match, Outcome.MISMATCH: mismatch},
                             next_watermark=watermark, dataset=dataset)


def test_whole_first_then_incremental_then_whole_every_full_every() -> None:
    state = ScheduleState()
    first = plan_run(CFG, state, 10.0)
    assert first == PlannedRun("checksum")
    assert first.kind == "checksum"
    state = after_run(CFG, state, first, 10.0, [report("checksum")])
    assert state == ScheduleState(10.0, T0)
    nxt = plan_run(CFG, state, 50.0)
    assert nxt == PlannedRun("full", T0)
    assert nxt.kind == "incremental"
    later = T0 + timedelta(minutes=1)
    state = after_run(CFG, state, nxt, 50.0, [report("incremental", watermark=later)])
    assert state == ScheduleState(10.0, later)  # the last whole run's time is kept
    assert plan_run(CFG, state, 110.0) == PlannedRun("checksum")  # full_every is due


def test_a_failed_or_cancelled_run_keeps_the_watermark() -> None:
    state = ScheduleState(10.0, T0)
    run = plan_run(CFG, state, 20.0)
    failed = [report("incremental", watermark=T0 + timedelta(hours=1)),
              report("incremental", channel="c", error="source 'c': connect: refused")]
    assert after_run(CFG, state, run, 20.0, failed) == state
    assert after_run(CFG, state, run, 20.0, []) == state
    # no whole run succeeded yet: the next one is whole again
    assert plan_run(CFG, after_run(CFG, ScheduleState(), PlannedRun("checksum"), 1.0,
                                   failed), 2.0) == PlannedRun("checksum")


def test_other_schedules_are_one_mode() -> None:
    cfg = replace(CFG, schedule_mode="sample", full_every_seconds=None)
    assert plan_run(cfg, ScheduleState(), 0.0) == PlannedRun("sample")
    assert after_run(cfg, ScheduleState(), PlannedRun("sample"), 0.0,
                     [report("sample")]) == ScheduleState()
    never = replace(CFG, full_every_seconds=None)
    assert plan_run(never, ScheduleState(0.0, T0), 1e9).kind == "incremental"


def test_an_incremental_run_without_changes_keeps_the_verdict() -> None:
    state = ConsistencyState()
    state.keep([report("full", match=90, mismatch=10)])
    state.keep([report("incremental", match=0, mismatch=0)])
    assert state.latest["customers", "b"].mode == "full"
    state.keep([report("incremental", match=3, mismatch=1)])
    assert state.latest["customers", "b"].mode == "incremental"
    assert state.whole["customers", "b"].mode == "full"


def test_overall_weighs_datasets_by_judged_keys() -> None:
    got = overall([report("full", 90, 10), report("checksum", 999, 1, dataset="accounts"),
                   report("full", 10, 0, channel="c")])
    assert got[0] == ("a", "b", "mixed", (90 + 999) / 1100)
    assert got[1] == ("a", "c", "full", 1.0)
    assert got[2] == ("a", "all", "mixed", (90 + 999 + 10) / 1110)
    broken = overall([report("full"), report("full", dataset="x", error="boom")])
    assert all(math.isnan(r[3]) for r in broken)
    assert overall([]) == []


def test_every_family_has_the_dataset_and_the_ratio_its_mode() -> None:
    state = ConsistencyState()
    state.keep([report("full", 90, 10), report("checksum", 999, 1, dataset="accounts")])
    state.keep([report("incremental", 4, 0)])
    registry = CollectorRegistry()
    registry.register(ConsistencyCollector(state))
    text = generate_latest(registry).decode()
    assert ('omniwatch_consistency_ratio{channel="b",dataset="customers",mode="incremental",'
            'reference="a"} 1.0') in text
    assert ('omniwatch_consistency_ratio{channel="b",dataset="accounts",mode="checksum",'
            'reference="a"} 0.999') in text
    # the overall ratio weighs the latest whole runs, not the incremental one
    assert ('omniwatch_consistency_ratio{channel="all",dataset="all",mode="mixed",'
            'reference="a"} 0.99') in text
    assert ('omniwatch_consistency_records{channel="b",dataset="accounts",outcome="match",'
            'reference="a"} 999.0') in text
    for line in text.splitlines():
        if line.startswith("omniwatch_consistency_"):
            assert 'dataset="' in line, line


async def until(done: Callable[[], bool]) -> None:
    for _ in range(500):  # 10 s
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


def test_the_runner_schedules_every_dataset_and_a_reload_replaces_them(tmp_path: Path
                                                                        ) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text("customer_id,name\nC001,Zhang\nC002,Li\n")
    src = {"a": {"kind": "csv", "path": "a.csv"}, "b": {"kind": "csv", "path": "b.csv"}}
    raw = {"schedule": {"interval": "0.1s"}, "datasets": {
        "customers": {"reference": "a", "fields": ["name"], "sources": src},
        "people": {"reference": "a", "fields": ["name"], "sources": src}}}
    first = build_datasets(raw, "t.yaml", tmp_path)
    second = first[1:]  # a reload that drops a dataset

    async def scenario() -> tuple[set[str], set[str]]:
        state = ConsistencyState()
        runner = ConsistencyRunner(state, None)
        runner.replace(first)
        await until(lambda: {d for d, _ in state.latest} == {"customers", "people"})
        runner.replace(second)
        state.latest.clear()  # as the monitor does on a reload
        state.whole.clear()
        await until(lambda: bool(state.latest))
        await asyncio.sleep(0.3)
        seen = {d for d, _ in state.latest}
        await runner.stop()
        return seen, {t.get_name() for t in asyncio.all_tasks()}

    seen, tasks = asyncio.run(scenario())
    assert seen == {"people"}
    assert not any(name.startswith("consistency-") for name in tasks)
