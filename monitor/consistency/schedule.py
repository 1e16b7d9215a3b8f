"""Which kind of run a dataset's schedule makes next: pure, the clock passed in.

With ``schedule.mode: incremental`` a scheduled run compares only the keys changed since
the previous run's watermark (``run_check(since=...)``), and every ``full_every`` a whole
run (the dataset's ``mode``: full or checksum) instead.  The first run after start is a
whole one: the watermark and the time of the last whole run live in memory only, so a
restart (or a reload that changes the section) begins with a whole run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.consistency.model import ConsistencyConfig, ConsistencyReport

INCREMENTAL = "incremental"


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What one dataset's schedule remembers between runs.

    ``last_whole`` is when (monotonic seconds) the last successful whole run started;
    ``watermark`` is where the next incremental run starts (``None``: no whole run yet).
    """

    last_whole: float | None = None
    watermark: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """The arguments of the next scheduled ``run_check``: ``since`` None is a whole run."""

    mode: str
    since: datetime | None = None

    @property
    def kind(self) -> str:
        """What the reports will say: ``incremental`` or the whole run's mode."""
        return INCREMENTAL if self.since is not None else self.mode


def plan_run(config: ConsistencyConfig, state: ScheduleState, now: float) -> PlannedRun:
    """The next scheduled run of ``config`` at monotonic time ``now``."""
    if config.schedule_mode != INCREMENTAL:
        return PlannedRun(config.schedule_mode)
    if state.watermark is None or state.last_whole is None:
        return PlannedRun(config.mode)
    every = config.full_every_seconds
    if every is not None and now - state.last_whole >= every:
        return PlannedRun(config.mode)
    return PlannedRun("full", state.watermark)


def after_run(config: ConsistencyConfig, state: ScheduleState, run: PlannedRun,
              started: float, reports: Sequence[ConsistencyReport]) -> ScheduleState:
    """The state after ``run`` (begun at monotonic ``started``) returned ``reports``.

    A run in which any channel failed (or that was cancelled: no reports) leaves the
    state as it was: the next run covers the same changes again, so a difference in rows
    a broken channel could not read is never skipped over.
    """
    if config.schedule_mode != INCREMENTAL or not reports:
        return state
    if any(not r.success for r in reports):
        return state
    marks = [r.next_watermark for r in reports if r.next_watermark is not None]
    watermark = min(marks) if marks else state.watermark
    if run.since is None:
        return ScheduleState(started, watermark)
    return ScheduleState(state.last_whole, watermark)
