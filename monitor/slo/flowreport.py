"""The journeys report: flow time per objective and ISO week of a month, against the plan.

:func:`build_flow_report` is pure: hourly flow-time histograms in, a :class:`FlowReport`
out.  :func:`flow_report` is the thin edge that reads them from a store; the renderers
live in :mod:`monitor.slo.flowrender`.

Definitions:

- a week is an ISO week (Monday 00:00 in the SLO time zone) clipped to the month; an
  hour bucket belongs to the week its start falls in;
- ``runs``, ``p50``, ``p95``: the successful counted runs of the week and their
  percentiles (interpolated inside the store's bins, see :mod:`monitor.slo.flowtime`),
  whatever the objective's percentile; ``value`` is the objective's own percentile;
- ``planned``: what the plan allows at the week's end (a ``max`` objective: the max);
  *on track* when ``value <= planned``, *met* when ``value <= objective``; a week
  without runs is "no data", never on track.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.config.model import Config, FlowObjective
from monitor.slo.budget import month_bounds
from monitor.slo.flowtime import (
    FlowHistogram,
    Week,
    merge,
    met,
    month_weeks,
    on_track,
    planned_seconds,
    week_start,
)
from monitor.slo.report import parse_month


@dataclass(frozen=True, slots=True)
class FlowScope:
    """One report section: a flow target and its objective (None: percentiles only)."""

    channel: str
    target: str
    objective: FlowObjective | None = None


@dataclass(frozen=True, slots=True)
class FlowWeekRow:
    """One week of one objective. Percentiles are None without runs."""

    week: Week
    runs: int
    p50_seconds: float | None
    p95_seconds: float | None
    value_seconds: float | None
    planned_seconds: float | None
    on_track: bool | None
    met: bool | None


@dataclass(frozen=True, slots=True)
class FlowSection:
    """The weeks of one scope."""

    scope: FlowScope
    weeks: tuple[FlowWeekRow, ...]

    @property
    def last_with_data(self) -> FlowWeekRow | None:
        """The month's last week with runs, or None."""
        return next((w for w in reversed(self.weeks) if w.runs), None)

    @property
    def on_track(self) -> bool | None:
        """Whether the last week with data is on track; None without an objective or data."""
        last = self.last_with_data
        return None if last is None or self.scope.objective is None else last.on_track


@dataclass(frozen=True, slots=True)
class FlowReport:
    """The journeys report for one calendar month (``YYYY-MM`` in ``timezone``)."""

    month: str
    timezone: str
    start: float
    end: float
    generated_at: float
    sections: tuple[FlowSection, ...]

    @property
    def all_on_track(self) -> bool:
        """Every objective with data is on track in its last week with data."""
        return all(s.on_track is not False for s in self.sections)


def flow_scopes(config: Config) -> list[FlowScope]:
    """One scope per configured objective, in order; without any objective, one per flow
    target (percentiles listed, nothing judged)."""
    channel_of = {t.name: t.channel for t in config.targets}
    if config.journeys.objectives:
        return [FlowScope(channel_of.get(o.target, ""), o.target, o)
                for o in config.journeys.objectives]
    return [FlowScope(t.channel, t.name) for t in config.targets if t.is_flow]


def build_flow_report(
    month: str,
    scopes: Sequence[FlowScope],
    hours: Mapping[str, Sequence[FlowHistogram]],
    first_data: Mapping[str, float],
    now: float,
    timezone: str = "UTC",
) -> FlowReport:
    """Assemble the report from the month's hourly histograms. Pure.

    ``first_data`` is each target's first hour with a run ever (not only this month):
    a plan without ``since`` starts at the beginning of that week.
    """
    year, mon = parse_month(month)
    start, end = month_bounds(year, mon, timezone)
    weeks = month_weeks(year, mon, timezone)
    sections = []
    for scope in scopes:
        by_week: list[list[FlowHistogram]] = [[] for _ in weeks]
        for h in hours.get(scope.target, ()):
            for i, w in enumerate(weeks):
                if w.start <= h.start < w.end:
                    by_week[i].append(h)
                    break
        first = first_data.get(scope.target)
        anchor = None if first is None else week_start(first, timezone)
        rows = tuple(_week_row(w, merge(hs), scope.objective, anchor)
                     for w, hs in zip(weeks, by_week, strict=True))
        sections.append(FlowSection(scope, rows))
    return FlowReport(month, timezone, start, end, now, tuple(sections))


def _week_row(week: Week, h: FlowHistogram, objective: FlowObjective | None,
              anchor: float | None) -> FlowWeekRow:
    p50, p95 = h.percentile(50), h.percentile(95)
    if objective is None:
        return FlowWeekRow(week, h.runs, p50, p95, None, None, None, None)
    value = h.percentile(objective.percentile)
    planned = planned_seconds(objective, week.end, anchor)
    return FlowWeekRow(week, h.runs, p50, p95, value, planned, on_track(value, planned),
                       met(value, objective))


class FlowStore(Protocol):
    """The store queries flow time needs (see :class:`monitor.store.sql.SqlProbeStore`)."""

    def flow_hours(self, start: float, end: float, names: Sequence[str] | None = None
                   ) -> dict[str, list[FlowHistogram]]: ...

    def flow_first(self, names: Sequence[str] | None = None) -> dict[str, float]: ...


def flow_report(store: FlowStore, month: str, scopes: Sequence[FlowScope], now: float,
                timezone: str = "UTC") -> FlowReport:
    """Read the month from ``store`` and build its report (the CLI's entry point)."""
    start, end = month_bounds(*parse_month(month), timezone)
    names = sorted({s.target for s in scopes})
    return build_flow_report(month, scopes, store.flow_hours(start, end, names),
                             store.flow_first(names), now, timezone)
