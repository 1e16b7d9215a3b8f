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

from monitor.consistency.cancel import CancelScope
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
    # The check running now (settled when its thread ends, even after a cancel).
    active: asyncio.Future[Any] | None = None


def history_row(report: ConsistencyReport) -> dict[str, Any]:
    """What the history store keeps of ``report``: counts, never a value."""
    doc = report_to_dict(report)
    doc.pop("samples", None)
    if not report.success:  # the table's columns are NOT NULL: empty, not partial, counts
        doc.update(judged=0, counts={}, field_mismatches={})
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
              channels: Sequence[str] | None = None,
              cancel: CancelScope | None = None) -> list[ConsistencyReport]:
    """Run one check (blocking), log it and add it to the history when a store is given.

    A check cancelled meanwhile (``cancel``) is neither logged as failed nor recorded:
    it was stopped, it did not find anything; it returns no reports.
    """
    reports = run_check(config, mode=mode, channels=channels, cancel=cancel)
    if cancel is not None and cancel.cancelled:
        log.info("consistency_check_cancelled", extra={"reference": config.reference})
        return []
    for r in reports:
        log_report(r)
        if store is not None:
            try:
                store.record_consistency(history_row(r))
            except Exception as exc:  # history is best effort; the check result stands
                log.error("consistency_history_failed", extra={
                    "channel": r.channel, "error": type(exc).__name__})
    return reports


# How long a cancelled check may take to wind down before its task gives up waiting
# (the thread is a daemon; the next check still waits for it, see ``schedule_loop``).
WIND_DOWN_SECONDS = 5.0


async def _cancellable(state: ConsistencyState, fn: Callable[[CancelScope], T]) -> T:
    """Run ``fn(scope)`` in a daemon thread: a check that takes minutes must not hold up
    shutdown, as a thread of the default executor would (it is joined at exit).

    Cancelling the awaiting task cancels the scope (the sources end their connections
    and statements) and waits a moment for the thread to end; ``state.active`` stays
    pending until it has, whatever happens to the task.
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

    state.active = future
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


async def schedule_loop(config: ConsistencyConfig, state: ConsistencyState,
                        store: Any) -> None:
    """Check every ``interval_seconds`` forever (cancel to stop); never two at once.

    A check of an earlier loop (replaced by a reload) that is still winding down is
    waited for first, so two checks of one channel never overlap.
    """
    while True:
        previous = state.active
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        started = time.monotonic()
        try:
            reports = await _cancellable(state, lambda scope: check_now(
                config, store, mode=config.schedule_mode, cancel=scope))
        except Exception:
            log.exception("consistency_run_crashed")
        else:
            for r in reports:
                state.latest[r.channel] = r
            state.runs += 1
        await asyncio.sleep(max(0.0, config.interval_seconds - (time.monotonic() - started)))


class ConsistencyRunner:
    """The scheduled checks of one monitor: at most one schedule loop, and a replaced
    loop's check cancelled (not abandoned) before the new loop's first check starts."""

    def __init__(self, state: ConsistencyState, store: Any) -> None:
        self._state = state
        self._store = store
        self._task: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()

    def replace(self, config: ConsistencyConfig | None) -> None:
        """Cancel the current loop (and its check) and start one for ``config``, if any."""
        if self._task is not None:
            old, self._task = self._task, None
            old.cancel()
            self._retired.add(old)
            old.add_done_callback(self._retired.discard)
        if config is not None:
            self._task = asyncio.create_task(schedule_loop(config, self._state, self._store))

    async def stop(self) -> None:
        """Cancel every loop and wait (a bounded moment) for their checks to end."""
        self.replace(None)
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
