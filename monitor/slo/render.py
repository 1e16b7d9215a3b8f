"""Renderers of the monthly SLA report: table, csv, json and html, pure functions."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from monitor.slo.consistency_report import ConsistencyRow
from monitor.slo.report import AvailabilityRow, ChannelReport, MonthlyReport
from monitor.tables import format_table

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


def _met(row: AvailabilityRow | ConsistencyRow) -> str:
    return {True: "yes", False: "NO", None: "NO DATA"}[row.met]


def _status(row: AvailabilityRow | ConsistencyRow) -> str:
    return {True: "met", False: "missed", None: "no_data"}[row.met]


def _rows(report: MonthlyReport) -> Iterable[tuple[str, ChannelReport, AvailabilityRow]]:
    for c in report.channels:
        yield "channel", c, c.channel
        for t in c.targets:
            yield "target", c, t


_TABLE_HEAD: Final = ("channel", "target", "objective", "achieved", "met", "probes", "excluded",
                      "downtime", "incidents")  # fmt: skip


_CONSISTENCY_HEAD: Final = ("dataset", "channel", "reference", "objective", "last", "minimum",
                            "mean", "met", "runs", "failed")  # fmt: skip


def _consistency_cells(r: ConsistencyRow) -> tuple[str, ...]:
    return (r.dataset, r.channel, r.reference, _objective(r.objective), _percent(r.last, 3),
            _percent(r.minimum, 3), _percent(r.mean, 3), _met(r), str(r.runs),
            str(r.failed))  # fmt: skip


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
    lines += format_table(body)
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
    if report.consistency:
        lines += ["", "consistency (whole runs; runs and failed count every run):"]
        lines += format_table([_CONSISTENCY_HEAD,
                               *(_consistency_cells(r) for r in report.consistency)])
    return "\n".join(lines) + "\n"


CSV_COLUMNS: Final = ("record", "channel", "target", "objective_ratio", "achieved_ratio", "met",
                      "counted_probes", "good_probes", "excluded_probes", "downtime_seconds",
                      "start", "end", "duration_seconds", "reason", "dataset", "reference",
                      "last_ratio", "min_ratio", "mean_ratio", "runs", "failed_runs")  # fmt: skip
_CSV_TAIL: Final = ("",) * 7


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.8f}"


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
            r.excluded, f"{r.downtime_seconds:.0f}", "", "", "", "", *_CSV_TAIL,
        ])  # fmt: skip
    for c in report.channels:
        for i in c.channel.incidents:
            w.writerow(["incident", c.channel.name, i.target, "", "", "", "", "", "", "",
                        _time(i.start, tz), "" if i.ongoing else _time(i.end, tz),
                        f"{i.duration_seconds:.0f}", i.reason, *_CSV_TAIL])  # fmt: skip
        for m in c.maintenance:
            w.writerow(["maintenance", c.channel.name, "", "", "", "", "", "", "", "",
                        _time(m.start, tz), _time(m.end, tz), f"{m.duration_seconds:.0f}",
                        m.name, *_CSV_TAIL])  # fmt: skip
    for cr in report.consistency:
        w.writerow(["consistency", cr.channel, "", cr.objective, "", _met(cr), "", "", "", "",
                    "", "", "", "", cr.dataset, cr.reference, _ratio(cr.last),
                    _ratio(cr.minimum), _ratio(cr.mean), cr.runs, cr.failed])  # fmt: skip
    return out.getvalue()


def report_dict(report: MonthlyReport) -> dict[str, Any]:
    """The report as JSON-ready data (times as ISO 8601 in the report's time zone)."""
    tz = report.timezone

    def row(r: AvailabilityRow) -> dict[str, Any]:
        return {
            "name": r.name, "objective_ratio": r.objective, "achieved_ratio": r.achieved,
            "met": r.met, "status": _status(r),
            "counted_probes": r.total, "good_probes": r.good,
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
        "no_data": list(report.no_data),
        "channels": [
            {**row(c.channel),
             "targets": [row(t) for t in c.targets],
             "maintenance": [{"name": m.name, "start": _time(m.start, tz),
                              "end": _time(m.end, tz), "duration_seconds": m.duration_seconds}
                             for m in c.maintenance]}
            for c in report.channels
        ],
        "consistency": [
            {"dataset": r.dataset, "channel": r.channel, "reference": r.reference,
             "objective_ratio": r.objective, "last_ratio": r.last, "min_ratio": r.minimum,
             "mean_ratio": r.mean, "met": r.met, "status": _status(r), "runs": r.runs,
             "failed_runs": r.failed}
            for r in report.consistency
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
    consistency = "".join(
        f'<tr class="{ {True: "met", False: "missed", None: "nodata"}[r.met] }">'
        + "".join(f"<td>{e(cell)}</td>" for cell in _consistency_cells(r)) + "</tr>"
        for r in report.consistency)
    consistency_head = "".join(f"<th>{h}</th>" for h in _CONSISTENCY_HEAD)
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
        + (f"<h2>Consistency</h2><table><tr>{consistency_head}</tr>{consistency}</table>"
           if report.consistency else "")
        + "</body></html>\n"
    )


RENDERERS: Final[Mapping[str, Callable[[MonthlyReport], str]]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}
