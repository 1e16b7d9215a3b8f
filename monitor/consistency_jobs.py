"""Consistency checks in the running monitor and on the command line.

The engine (:mod:`monitor.consistency`) is synchronous and driver-bound, so the monitor
runs it in a worker thread on ``consistency.schedule.interval``; the latest report per
channel is kept for scrapes and every run is written to the history store (counts only).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.consistency import report_to_dict, run_check
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome

log = logging.getLogger("omniwatch.consistency")
T = TypeVar("T")


@dataclass(slots=True)
class ConsistencyState:
    """The latest report of every channel, for the collector."""

    latest: dict[str, ConsistencyReport] = field(default_factory=dict)
    runs: int = 0


def history_row(report: ConsistencyReport) -> dict[str, Any]:
    """What the history store keeps of ``report``: counts, never a value."""
    doc = report_to_dict(report)
    doc.pop("samples", None)
    doc["started_at_ts"] = report.started_at.timestamp()
    return doc


def log_report(report: ConsistencyReport) -> None:
    """One structured line per channel checked; errors are already free of values."""
    facts: dict[str, Any] = {"reference": report.reference, "channel": report.channel,
                             "mode": report.mode, "duration_seconds":
                             round(report.duration_seconds, 3)}
    if report.error is not None:
        log.error("consistency_check_failed", extra={**facts, "error": report.error})
        return
    facts.update(ratio=report.ratio, judged=report.judged,
                 meets_objective=report.meets_objective)
    log.info("consistency_checked", extra=facts)


def check_now(config: ConsistencyConfig, store: Any, *, mode: str | None = None,
              channels: Sequence[str] | None = None) -> list[ConsistencyReport]:
    """Run one check (blocking), log it and add it to the history when a store is given."""
    reports = run_check(config, mode=mode, channels=channels)
    for r in reports:
        log_report(r)
        if store is not None:
            try:
                store.record_consistency(history_row(r))
            except Exception as exc:  # history is best effort; the check result stands
                log.error("consistency_history_failed", extra={
                    "channel": r.channel, "error": type(exc).__name__})
    return reports


async def _in_daemon_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a daemon thread: a check that takes minutes must not hold up
    shutdown, as a thread of the default executor would (it is joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=work, name="consistency-check", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[T], result: T | None, exc: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile (shutdown)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]


async def schedule_loop(config: ConsistencyConfig, state: ConsistencyState,
                        store: Any) -> None:
    """Check every ``interval_seconds`` forever (cancel to stop); never two at once."""
    while True:
        started = time.monotonic()
        try:
            reports = await _in_daemon_thread(
                lambda: check_now(config, store, mode=config.schedule_mode))
        except Exception:
            log.exception("consistency_run_crashed")
        else:
            for r in reports:
                state.latest[r.channel] = r
            state.runs += 1
        await asyncio.sleep(max(0.0, config.interval_seconds - (time.monotonic() - started)))


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


class ConsistencyCollector(Collector):
    """The consistency families from the latest report per channel."""

    def __init__(self, state: ConsistencyState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        labels = ("reference", "channel")
        ratio = GaugeMetricFamily(
            "omniwatch_consistency_ratio",
            "Matching keys / judged keys (all but pending_sync) in the last check; NaN when "
            "the check failed: a broken source is never 0% or 100%.", labels=labels)
        objective = GaugeMetricFamily(
            "omniwatch_consistency_objective_ratio", "The consistency objective.",
            labels=labels)
        records = GaugeMetricFamily(
            "omniwatch_consistency_records", "Keys per outcome in the last successful check.",
            labels=(*labels, "outcome"))
        fields = GaugeMetricFamily(
            "omniwatch_consistency_field_mismatches",
            "Mismatched records per field in the last successful check.",
            labels=(*labels, "field"))
        success = GaugeMetricFamily(
            "omniwatch_consistency_check_success",
            "1 if the last check ran to completion, 0 if a source failed.", labels=labels)
        last = GaugeMetricFamily(
            "omniwatch_consistency_last_run_timestamp_seconds", "When the last check started.",
            labels=labels)
        duration = GaugeMetricFamily(
            "omniwatch_consistency_check_duration_seconds", "How long the last check took.",
            labels=labels)
        for r in self._state.latest.values():
            lbl = [r.reference, r.channel]
            ratio.add_metric(lbl, _nan(r.ratio))
            objective.add_metric(lbl, r.objective)
            success.add_metric(lbl, 1.0 if r.success else 0.0)
            last.add_metric(lbl, r.started_at.timestamp())
            duration.add_metric(lbl, r.duration_seconds)
            if r.success:
                counts: Mapping[Outcome, int] = r.counts
                for outcome in Outcome:
                    records.add_metric([*lbl, str(outcome)], counts.get(outcome, 0))
                for name, n in sorted(r.field_mismatches.items()):
                    fields.add_metric([*lbl, name], n)
        yield from (ratio, objective, records, fields, success, last, duration)
