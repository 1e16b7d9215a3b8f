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
- *excluded* = the probes not counted, and the maintenance occurrences of the month.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from monitor.exclusions import Exclusions
from monitor.slo import month_bounds
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

    @property
    def all_met(self) -> bool:
        """Whether every channel and target with data met its objective."""
        rows = [r for c in self.channels for r in (c.channel, *c.targets)]
        return all(r.met is not False for r in rows)


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
) -> MonthlyReport:
    """Assemble the report for ``month`` from month totals and incidents. Pure."""
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
    return MonthlyReport(month, timezone, start, end, now, tuple(channels))


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
    )


# -- renderers ---------------------------------------------------------------------------


def _percent(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _objective(value: float) -> str:
    return f"{value * 100:g}%"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s"


def _time(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="seconds")


def _met(row: AvailabilityRow) -> str:
    return {True: "yes", False: "NO", None: "n/a"}[row.met]


def _rows(report: MonthlyReport) -> Iterable[tuple[str, ChannelReport, AvailabilityRow]]:
    for c in report.channels:
        yield "channel", c, c.channel
        for t in c.targets:
            yield "target", c, t


_TABLE_HEAD: Final = ("channel", "target", "objective", "achieved", "met", "probes", "excluded",
                      "downtime", "incidents")  # fmt: skip


def render_table(report: MonthlyReport) -> str:
    """A fixed-width text table, then incidents and maintenance per channel."""
    lines = [f"SLA report {report.month} ({report.timezone})", ""]
    body = [_TABLE_HEAD]
    for kind, c, r in _rows(report):
        body.append((
            c.channel.name, "" if kind == "channel" else r.name, _objective(r.objective),
            _percent(r.achieved), _met(r), str(r.total), str(r.excluded),
            _duration(r.downtime_seconds), str(len(r.incidents)),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in body) for i in range(len(_TABLE_HEAD))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in body]  # fmt: skip
    for c in report.channels:
        if c.channel.incidents:
            lines += ["", f"incidents in {c.channel.name}:"]
            for i in c.channel.incidents:
                end = "ongoing" if i.ongoing else _time(i.end, report.timezone)
                lines.append(f"  {i.target}  {_time(i.start, report.timezone)} .. {end}  "
                             f"{_duration(i.duration_seconds)}  {i.reason}")  # fmt: skip
        if c.maintenance:
            lines += ["", f"maintenance excluded in {c.channel.name}:"]
            for m in c.maintenance:
                span = f"{_time(m.start, report.timezone)} .. {_time(m.end, report.timezone)}"
                lines.append(f"  {m.name}  {span}  {_duration(m.duration_seconds)}")
    return "\n".join(lines) + "\n"


CSV_COLUMNS: Final = ("record", "channel", "target", "objective_ratio", "achieved_ratio", "met",
                      "counted_probes", "good_probes", "excluded_probes", "downtime_seconds",
                      "start", "end", "duration_seconds", "reason")  # fmt: skip


def render_csv(report: MonthlyReport) -> str:
    """One CSV table: ``availability`` rows, then ``incident`` and ``maintenance`` rows."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    tz = report.timezone
    for kind, c, r in _rows(report):
        w.writerow([
            "availability", c.channel.name, "" if kind == "channel" else r.name, r.objective,
            "" if r.achieved is None else f"{r.achieved:.8f}", _met(r), r.total, r.good,
            r.excluded, f"{r.downtime_seconds:.0f}", "", "", "", "",
        ])  # fmt: skip
    for c in report.channels:
        for i in c.channel.incidents:
            w.writerow(["incident", c.channel.name, i.target, "", "", "", "", "", "", "",
                        _time(i.start, tz), "" if i.ongoing else _time(i.end, tz),
                        f"{i.duration_seconds:.0f}", i.reason])  # fmt: skip
        for m in c.maintenance:
            w.writerow(["maintenance", c.channel.name, "", "", "", "", "", "", "", "",
                        _time(m.start, tz), _time(m.end, tz), f"{m.duration_seconds:.0f}",
                        m.name])  # fmt: skip
    return out.getvalue()


def report_dict(report: MonthlyReport) -> dict[str, Any]:
    """The report as JSON-ready data (times as ISO 8601 in the report's time zone)."""
    tz = report.timezone

    def row(r: AvailabilityRow) -> dict[str, Any]:
        return {
            "name": r.name, "objective_ratio": r.objective, "achieved_ratio": r.achieved,
            "met": r.met, "counted_probes": r.total, "good_probes": r.good,
            "excluded_probes": r.excluded, "downtime_seconds": round(r.downtime_seconds, 3),
            "incidents": [
                {"target": i.target, "start": _time(i.start, tz),
                 "end": None if i.ongoing else _time(i.end, tz),
                 "duration_seconds": round(i.duration_seconds, 3), "reason": i.reason}
                for i in r.incidents
            ],
        }  # fmt: skip

    return {
        "month": report.month,
        "timezone": tz,
        "start": _time(report.start, tz),
        "end": _time(report.end, tz),
        "generated_at": _time(report.generated_at, tz),
        "all_met": report.all_met,
        "channels": [
            {**row(c.channel),
             "targets": [row(t) for t in c.targets],
             "maintenance": [{"name": m.name, "start": _time(m.start, tz),
                              "end": _time(m.end, tz), "duration_seconds": m.duration_seconds}
                             for m in c.maintenance]}
            for c in report.channels
        ],
    }  # fmt: skip


def render_json(report: MonthlyReport) -> str:
    """:func:`report_dict` as indented JSON."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


def render_html(report: MonthlyReport) -> str:
    """A self-contained HTML page (no scripts, no external assets); every value escaped."""
    e = html.escape
    tz = report.timezone
    rows = []
    for kind, c, r in _rows(report):
        cls = {True: "met", False: "missed", None: "nodata"}[r.met]
        rows.append(
            f'<tr class="{kind} {cls}"><td>{e(c.channel.name)}</td>'
            f"<td>{'' if kind == 'channel' else e(r.name)}</td><td>{_objective(r.objective)}</td>"
            f"<td>{_percent(r.achieved)}</td><td>{_met(r)}</td><td>{r.total}</td>"
            f"<td>{r.excluded}</td><td>{_duration(r.downtime_seconds)}</td>"
            f"<td>{len(r.incidents)}</td></tr>"
        )
    details = []
    for c in report.channels:
        for i in c.channel.incidents:
            end = "ongoing" if i.ongoing else _time(i.end, tz)
            details.append(
                f"<tr><td>{e(c.channel.name)}</td><td>{e(i.target)}</td>"
                f"<td>{_time(i.start, tz)}</td><td>{end}</td>"
                f"<td>{_duration(i.duration_seconds)}</td><td>{e(i.reason)}</td></tr>"
            )
    maint = [
        f"<tr><td>{e(c.channel.name)}</td><td>{e(m.name)}</td><td>{_time(m.start, tz)}</td>"
        f"<td>{_time(m.end, tz)}</td><td>{_duration(m.duration_seconds)}</td></tr>"
        for c in report.channels
        for m in c.maintenance
    ]
    head = "".join(f"<th>{h}</th>" for h in _TABLE_HEAD)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>SLA report {e(report.month)}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #999;padding:2px 6px}tr.channel{font-weight:bold}"
        "tr.missed td{background:#fdd}</style></head><body>"
        f"<h1>SLA report {e(report.month)} ({e(tz)})</h1>"
        f"<p>Generated {_time(report.generated_at, tz)}.</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>"
        "<h2>Incidents</h2><table><tr><th>channel</th><th>target</th><th>start</th>"
        f"<th>end</th><th>duration</th><th>reason</th></tr>{''.join(details)}</table>"
        "<h2>Excluded maintenance</h2><table><tr><th>channel</th><th>window</th>"
        f"<th>start</th><th>end</th><th>duration</th></tr>{''.join(maint)}</table>"
        "</body></html>\n"
    )


RENDERERS: Final[Mapping[str, Callable[[MonthlyReport], str]]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}
