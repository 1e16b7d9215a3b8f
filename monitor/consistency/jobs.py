"""Consistency checks in the running monitor and on the command line.

The engine (:mod:`monitor.consistency`) is synchronous and driver-bound, so the monitor
runs it in a worker thread on ``consistency.schedule.interval``; the latest report per
channel is kept for scrapes (:mod:`monitor.metrics.consistency`) and every run is written
to the history store (counts only).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from monitor.consistency.model import ConsistencyConfig, ConsistencyReport
from monitor.consistency.report import report_to_dict
from monitor.consistency.run import run_check

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
