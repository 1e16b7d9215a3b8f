"""Consistency checks in the running monitor and on the command line.

The engine (:mod:`monitor.consistency`) is synchronous and driver-bound, so the monitor
runs it in a worker thread.  Every dataset has its own schedule (its
``schedule.interval``, and with ``schedule.mode: incremental`` the plan of
:mod:`monitor.consistency.schedule`); one check thread runs at a time across all datasets
(a lock), so datasets due together run one after the other and two checks of one dataset
never overlap.  The latest report per (dataset, channel) is kept for scrapes
(:mod:`monitor.metrics.consistency`) and every run is written to the history store
(counts only).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from monitor.consistency.cancel import CancelScope
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport
from monitor.consistency.progress import ProgressSink
from monitor.consistency.report import report_to_dict
from monitor.consistency.run import run_check
from monitor.consistency.schedule import (
    INCREMENTAL,
    PlannedRun,
    ScheduleState,
    after_run,
    plan_run,
)

log = logging.getLogger("omniwatch.consistency")
T = TypeVar("T")


# (dataset, channel): what the latest reports are kept by.
ReportKey = tuple[str, str]


@dataclass(slots=True)
class ConsistencyState:
    """The latest reports, for the collector and the alert rules.

    ``latest`` is the latest report per (dataset, channel), of any kind; ``whole`` the
    latest of a whole run (full, checksum or sample: not incremental), which is what the
    overall ratio weighs.  ``active`` holds each dataset's check in progress (settled when
    its thread ends, even after a cancel).
    """

    latest: dict[ReportKey, ConsistencyReport] = field(default_factory=dict)
    whole: dict[ReportKey, ConsistencyReport] = field(default_factory=dict)
    runs: int = 0
    active: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    def keep(self, reports: Sequence[ConsistencyReport]) -> None:
        """Take in one run's reports.  An incremental run that found no changed key
        judged nothing: the previous verdict of that channel stands."""
        for r in reports:
            key = (r.dataset, r.channel)
            if r.mode == INCREMENTAL:
                if not (r.success and r.judged == 0 and key in self.latest):
                    self.latest[key] = r
                continue
            self.latest[key] = self.whole[key] = r


def history_row(report: ConsistencyReport) -> dict[str, Any]:
    """What the history store keeps of ``report``: counts, never a value."""
    doc = report_to_dict(report)
    doc.pop("samples", None)
    doc["dataset"] = report.dataset
    if not report.success:  # the table's columns are NOT NULL: empty, not partial, counts
        doc.update(judged=0, counts={}, field_mismatches={})
    doc["started_at_ts"] = report.started_at.timestamp()
    return doc


def log_report(report: ConsistencyReport) -> None:
    """One structured line per channel checked; errors are already free of values."""
    facts: dict[str, Any] = {"dataset": report.dataset, "reference": report.reference,
                             "channel": report.channel,
                             "mode": report.mode, "duration_seconds":
                             round(report.duration_seconds, 3)}
    if report.error is not None:
        log.error("consistency_check_failed", extra={**facts, "error": report.error})
        return
    facts.update(ratio=report.ratio, judged=report.judged,
                 meets_objective=report.meets_objective)
    log.info("consistency_checked", extra=facts)


def check_now(config: ConsistencyConfig, store: Any, *, mode: str | None = None,
              channels: Sequence[str] | None = None, since: datetime | None = None,
              cancel: CancelScope | None = None, progress: ProgressSink | None = None
              ) -> list[ConsistencyReport]:
    """Run one check (blocking), log it and add it to the history when a store is given.

    The reports name ``config.dataset``; ``since`` makes it incremental (``run_check``);
    ``progress`` hears how far it is (the CLI on a terminal; scheduled runs pass none).

    A check cancelled meanwhile (``cancel``) is neither logged as failed nor recorded:
    it was stopped, it did not find anything; it returns no reports.
    """
    reports = [replace(r, dataset=config.dataset) for r in run_check(
        config, mode=mode, channels=channels, since=since, cancel=cancel,
        progress=progress)]
    if cancel is not None and cancel.cancelled:
        log.info("consistency_check_cancelled", extra={"dataset": config.dataset,
                                                       "reference": config.reference})
        return []
    for r in reports:
        log_report(r)
        if store is not None:
            try:
                store.record_consistency(history_row(r))
            except Exception as exc:  # history is best effort; the check result stands
                log.error("consistency_history_failed", extra={
                    "dataset": r.dataset, "channel": r.channel,
                    "error": type(exc).__name__})
    return reports


# How long a cancelled check may take to wind down before its task gives up waiting
# (the thread is a daemon; the next check still waits for it, see ``schedule_loop``).
WIND_DOWN_SECONDS = 5.0


async def _cancellable(state: ConsistencyState, dataset: str,
                      fn: Callable[[CancelScope], T]) -> T:
    """Run ``fn(scope)`` in a daemon thread: a check that takes minutes must not hold up
    shutdown, as a thread of the default executor would (it is joined at exit).

    Cancelling the awaiting task cancels the scope (the sources end their connections
    and statements) and waits a moment for the thread to end; ``state.active[dataset]``
    stays pending until it has, whatever happens to the task.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    scope = CancelScope()

    def work() -> None:
        try:
            result = fn(scope)
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    state.active[dataset] = future
    threading.Thread(target=work, name="consistency-check", daemon=True).start()
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # Stopping the connections blocks (a second connection each): not on the loop.
        threading.Thread(target=scope.cancel, name="consistency-cancel", daemon=True).start()
        await asyncio.wait({future}, timeout=WIND_DOWN_SECONDS)
        if not future.done():
            log.warning("consistency_check_still_stopping", extra={
                "seconds": WIND_DOWN_SECONDS})
        raise


def _settle(future: asyncio.Future[T], result: T | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
        future.exception()  # retrieved: a cancelled check's error has nobody to go to
    else:
        future.set_result(result)  # type: ignore[arg-type]


def _scheduled(config: ConsistencyConfig, store: Any, run: PlannedRun
               ) -> Callable[[CancelScope], list[ConsistencyReport]]:
    return lambda scope: check_now(config, store, mode=run.mode, since=run.since,
                                   cancel=scope)


async def schedule_loop(config: ConsistencyConfig, state: ConsistencyState, store: Any,
                        lock: asyncio.Lock | None = None) -> None:
    """Check ``config``'s dataset every ``interval_seconds`` forever (cancel to stop).

    ``lock`` (shared by every dataset's loop) lets one check run at a time; under it,
    checks of earlier loops (replaced by a reload) still winding down are waited for
    first, so two checks of one dataset never overlap.  The incremental plan's state
    (:class:`~monitor.consistency.schedule.ScheduleState`) lives in this loop only.
    """
    lock = lock or asyncio.Lock()
    plan_state = ScheduleState()
    while True:
        started = time.monotonic()
        async with lock:
            pending = {f for f in state.active.values() if not f.done()}
            if pending:
                await asyncio.wait(pending)
            began = time.monotonic()
            run = plan_run(config, plan_state, began)
            try:
                reports = await _cancellable(state, config.dataset,
                                             _scheduled(config, store, run))
            except Exception:
                log.exception("consistency_run_crashed", extra={"dataset": config.dataset})
            else:
                plan_state = after_run(config, plan_state, run, began, reports)
                state.keep(reports)
                state.runs += 1
        await asyncio.sleep(max(0.0, config.interval_seconds - (time.monotonic() - started)))


class ConsistencyRunner:
    """The scheduled checks of one monitor: one schedule loop per dataset, one check at a
    time, and a replaced loop's check cancelled (not abandoned) before any new loop's
    first check starts."""

    def __init__(self, state: ConsistencyState, store: Any) -> None:
        self._state = state
        self._store = store
        self._tasks: list[asyncio.Task[None]] = []
        self._retired: set[asyncio.Task[None]] = set()

    def replace(self, configs: Sequence[ConsistencyConfig]) -> None:
        """Cancel the current loops (and their checks) and start one per dataset."""
        for old in self._tasks:
            old.cancel()
            self._retired.add(old)
            old.add_done_callback(self._retired.discard)
        lock = asyncio.Lock()
        self._tasks = [asyncio.create_task(schedule_loop(c, self._state, self._store, lock),
                                           name=f"consistency-{c.dataset}")
                       for c in configs]

    async def stop(self) -> None:
        """Cancel every loop and wait (a bounded moment) for their checks to end."""
        self.replace(())
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
