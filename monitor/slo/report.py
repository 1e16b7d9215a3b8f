"""The monthly SLA report per channel and target, and its renderers.

:func:`build_monthly_report` is pure: it turns month totals, incidents and exclusion
rules into a :class:`MonthlyReport`.  :func:`monthly_report` is the thin edge that reads
them from a store.  The renderers (:data:`RENDERERS`: table, csv, json, html) are pure
functions of the report.

Definitions, as handed to a risk office:

- *achieved availability* = good / counted probes in the month (``None``: no data, never
  reported as met);
- *downtime* = time inside incidents (first counted failure to next counted success),
  clipped to the month and to ``now``, minus the spans in which probes were not counted
  (maintenance windows, closed service hours).  A channel's downtime is the time at
  least one of its targets was down;
- *excluded* = the probes not counted, and the maintenance occurrences of the month;
- the consistency section: see :mod:`monitor.slo.consistency_report`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from monitor.slo.budget import month_bounds
from monitor.slo.consistency_report import ConsistencyRow
from monitor.slo.exclusions import Exclusions

if TYPE_CHECKING:  # the store sits below the SLO math; the report only reads its rows
    from monitor.store.buckets import BucketTotals, Incident

Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class ReportScope:
    """One channel's objective and its targets' objectives (target name, objective)."""

    channel: str
    objective: float
    targets: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident clipped to the month; ``ongoing`` when it had not ended at ``now``."""

    target: str
    start: float
    end: float
    duration_seconds: float
    reason: str
    ongoing: bool = False


@dataclass(frozen=True, slots=True)
class MaintenanceRow:
    """One maintenance occurrence inside the month."""

    name: str
    start: float
    end: float

    @property
    def duration_seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class AvailabilityRow:
    """Achieved availability of one channel or target against its objective."""

    name: str
    objective: float
    achieved: float | None
    good: int
    total: int
    excluded: int
    downtime_seconds: float
    incidents: tuple[IncidentRow, ...] = ()

    @property
    def met(self) -> bool | None:
        """Whether the objective was met; None without data."""
        return None if self.achieved is None else self.achieved >= self.objective


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """A channel's row, its targets' rows and the maintenance that touched it."""

    channel: AvailabilityRow
    targets: tuple[AvailabilityRow, ...]
    maintenance: tuple[MaintenanceRow, ...]


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """The SLA report for one calendar month (``YYYY-MM`` in ``timezone``)."""

    month: str
    timezone: str
    start: float
    end: float
    generated_at: float
    channels: tuple[ChannelReport, ...]
    consistency: tuple[ConsistencyRow, ...] = ()

    @property
    def all_met(self) -> bool:
        """Whether every channel and target with data, and every dataset's channel with
        a successful whole run, met its objective (consistency rows without one say
        ``NO DATA`` in their section; :attr:`no_data` stays about availability)."""
        rows = [r for c in self.channels for r in (c.channel, *c.targets)]
        return (all(r.met is not False for r in rows)
                and all(r.met is not False for r in self.consistency))

    @property
    def no_data(self) -> tuple[str, ...]:
        """The channels and targets (``channel/target``) without a counted probe this month:
        nothing is known of them, which is not the same as meeting the objective."""
        return tuple(name for c in self.channels for name, r in (
            (c.channel.name, c.channel),
            *((f"{c.channel.name}/{t.name}", t) for t in c.targets)) if r.met is None)


def parse_month(text: str) -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``; ``ValueError`` otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a month (use YYYY-MM)") from None
    if not 1 <= month <= 12 or len(text) != 7:
        raise ValueError(f"{text!r} is not a month (use YYYY-MM)")
    return year, month


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Union of spans as sorted, disjoint spans."""
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def subtract_spans(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    """``spans`` minus ``holes``, as sorted, disjoint spans."""
    result = merge_spans(spans)
    for h0, h1 in merge_spans(holes):
        next_result: list[Span] = []
        for a, b in result:
            if b <= h0 or a >= h1:
                next_result.append((a, b))
                continue
            if a < h0:
                next_result.append((a, h0))
            if b > h1:
                next_result.append((h1, b))
        result = next_result
    return result


def _measure(spans: Iterable[Span]) -> float:
    return sum(b - a for a, b in merge_spans(spans))


def build_monthly_report(
    month: str,
    scopes: Sequence[ReportScope],
    channel_totals: Mapping[str, BucketTotals],
    target_totals: Mapping[str, BucketTotals],
    incidents: Sequence[Incident],
    exclusions: Exclusions,
    now: float,
    timezone: str = "UTC",
    consistency: tuple[ConsistencyRow, ...] = (),
) -> MonthlyReport:
    """Assemble the report for ``month`` from month totals and incidents (and the
    consistency section, made by :func:`~monitor.slo.consistency_report.consistency_rows`).
    Pure."""
    year, mon = parse_month(month)
    start, end = month_bounds(year, mon, timezone)
    until = min(end, now)
    by_target: dict[str, list[Incident]] = {}
    for incident in incidents:
        by_target.setdefault(incident.target, []).append(incident)

    channels = []
    for scope in scopes:
        target_rows, channel_down = [], []
        for target, objective in scope.targets:
            holes = exclusions.excluded_spans(scope.channel, target, start, until)
            rows, down = _incident_rows(by_target.get(target, ()), start, until, holes)
            channel_down.extend(down)
            target_rows.append(_row(target, objective, target_totals.get(target), rows, down))
        maintenance = tuple(
            MaintenanceRow(name, b, e)
            for name, b, e in exclusions.maintenance_in(
                start, end, scope.channel, (t for t, _ in scope.targets)
            )
        )
        all_incidents = tuple(
            sorted((i for r in target_rows for i in r.incidents), key=lambda i: i.start)
        )
        channel_row = _row(
            scope.channel,
            scope.objective,
            channel_totals.get(scope.channel),
            all_incidents,
            channel_down,
        )
        channels.append(ChannelReport(channel_row, tuple(target_rows), maintenance))
    return MonthlyReport(month, timezone, start, end, now, tuple(channels), consistency)


def _incident_rows(
    incidents: Iterable[Incident], start: float, until: float, holes: Sequence[Span]
) -> tuple[tuple[IncidentRow, ...], list[Span]]:
    rows, down = [], []
    for i in incidents:
        a = max(i.start, start)
        b = min(i.end if i.end is not None else until, until)
        if b <= a:
            continue
        counted = subtract_spans([(a, b)], holes)
        down.extend(counted)
        rows.append(IncidentRow(i.target, a, b, _measure(counted), i.reason, i.end is None))
    return tuple(sorted(rows, key=lambda r: r.start)), down


def _row(
    name: str,
    objective: float,
    totals: BucketTotals | None,
    incidents: tuple[IncidentRow, ...],
    down: Iterable[Span],
) -> AvailabilityRow:
    good = totals.good if totals else 0
    total = totals.total if totals else 0
    return AvailabilityRow(
        name=name,
        objective=objective,
        achieved=good / total if total else None,
        good=good,
        total=total,
        excluded=totals.excluded if totals else 0,
        downtime_seconds=_measure(down),
        incidents=incidents,
    )


class ReportStore(Protocol):
    """The store queries the report needs (see :class:`monitor.store.ProbeStore`)."""

    def totals(
        self, kind: Any, start: float, end: float, names: Sequence[str] | None = None
    ) -> dict[str, BucketTotals]: ...

    def incidents(
        self, start: float, end: float, channel: str | None = None, target: str | None = None
    ) -> list[Incident]: ...


def monthly_report(
    store: ReportStore,
    month: str,
    scopes: Sequence[ReportScope],
    exclusions: Exclusions,
    now: float,
    timezone: str = "UTC",
    consistency: tuple[ConsistencyRow, ...] = (),
) -> MonthlyReport:
    """Read the month from ``store`` and build its report (the CLI's entry point)."""
    start, end = month_bounds(*parse_month(month), timezone)
    channel_names = [s.channel for s in scopes]
    target_names = [t for s in scopes for t, _ in s.targets]
    return build_monthly_report(
        month,
        scopes,
        store.totals("channel", start, end, channel_names),
        store.totals("target", start, end, target_names),
        store.incidents(start, end),
        exclusions,
        now,
        timezone,
        consistency,
    )

