"""Renderers of the journeys report: table, csv, json and html, pure functions."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from monitor.slo.flowreport import FlowReport, FlowSection, FlowWeekRow
from monitor.slo.flowtime import is_plan, percentile_label
from monitor.tables import format_table


def _seconds(v: float | None) -> str:
    """A flow time for people: ``840ms``, ``3.21s``, ``8m24s``, ``2h05m``."""
    if v is None:
        return "-"
    if v < 1:
        return f"{v * 1000:.0f}ms"
    if v < 60:
        return f"{v:.2f}s"
    whole = round(v)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _time(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="seconds")


def _yes(v: bool | None, no_data: str = "no data") -> str:
    return {True: "yes", False: "NO", None: no_data}[v]


def _status(s: FlowSection, w: FlowWeekRow) -> str:
    """``on_track``, ``behind``, ``no_data``, or ``listed`` (no objective to judge)."""
    if not w.runs:
        return "no_data"
    if s.scope.objective is None:
        return "listed"
    return "on_track" if w.on_track else "behind"


def _rows(report: FlowReport) -> Iterator[tuple[FlowSection, FlowWeekRow]]:
    for s in report.sections:
        for w in s.weeks:
            yield s, w


def _objective_cells(s: FlowSection) -> tuple[str, str, str]:
    """(percentile, baseline, objective) as text."""
    o = s.scope.objective
    if o is None:
        return "", "", ""
    return (f"p{percentile_label(o.percentile)}",
            _seconds(o.baseline_seconds) if is_plan(o) else "",
            _seconds(o.objective_seconds))


def _day(ts: float) -> str:
    # ``by`` and ``since`` are configured as dates: midnight UTC.
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def heading(s: FlowSection) -> str:
    """``channel / target``, then the objective in words."""
    name = f"{s.scope.channel} / {s.scope.target}"
    o = s.scope.objective
    if o is None:
        return f"{name}  (no objective: percentiles only)"
    pct = f"p{percentile_label(o.percentile)}"
    if not is_plan(o):
        return f"{name}  {pct} <= {_seconds(o.objective_seconds)}"
    text = (f"{name}  {pct}: {_seconds(o.baseline_seconds)} reduced "
            f"{(o.reduce_by or 0) * 100:g}% to {_seconds(o.objective_seconds)}")
    if o.by is not None:
        text += f" by {_day(o.by)}"
    if o.since is not None:
        text += f" from {_day(o.since)}"
    return text


def _judged(s: FlowSection, w: FlowWeekRow) -> bool:
    return s.scope.objective is not None and w.runs > 0


def _cells(s: FlowSection, w: FlowWeekRow) -> tuple[str, str, str]:
    """(value, on track, met) as text: ``no data`` without runs, ``-`` when not judged."""
    if not w.runs:
        return "-", "no data", "no data"
    if not _judged(s, w):
        return "-", "-", "-"
    return _seconds(w.value_seconds), _yes(w.on_track), _yes(w.met)


def _extra(s: FlowSection) -> str | None:
    """The objective's percentile column, when it is neither p50 nor p95."""
    o = s.scope.objective
    if o is None or o.percentile in (50, 95):
        return None
    return f"p{percentile_label(o.percentile)}"


def render_table(report: FlowReport) -> str:
    """Per objective a heading, then one row per ISO week of the month."""
    lines = [f"Journeys report {report.month} ({report.timezone})"]
    if not report.sections:
        return "\n".join([*lines, "", "no journey or browser targets configured"]) + "\n"
    for s in report.sections:
        extra = _extra(s)
        judged = s.scope.objective is not None
        head = ("week", "runs", "p50", "p95", *((extra,) if extra else ()),
                *(("planned", "on_track", "met") if judged else ()))
        body: list[tuple[str, ...]] = [head]
        for w in s.weeks:
            value, track, met_ = _cells(s, w)
            body.append((w.week.label, str(w.runs), _seconds(w.p50_seconds),
                         _seconds(w.p95_seconds), *((value,) if extra else ()),
                         *((_seconds(w.planned_seconds), track, met_) if judged else ())))
        lines += ["", heading(s), *("  " + line for line in format_table(body))]
    return "\n".join(lines) + "\n"


CSV_COLUMNS: Final = ("channel", "target", "percentile", "week", "week_start", "week_end",
                      "runs", "p50_seconds", "p95_seconds", "value_seconds",
                      "baseline_seconds", "planned_seconds", "objective_seconds", "status",
                      "on_track", "met")  # fmt: skip


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.3f}"


def _flag(v: bool | None) -> str:
    return "" if v is None else str(v).lower()


def render_csv(report: FlowReport) -> str:
    """One CSV row per objective and week; empty cells where nothing is known."""
    out = io.StringIO()
    w_ = csv.writer(out, lineterminator="\n")
    w_.writerow(CSV_COLUMNS)
    tz = report.timezone
    for s, w in _rows(report):
        o = s.scope.objective
        w_.writerow([
            s.scope.channel, s.scope.target, "" if o is None else percentile_label(o.percentile),
            w.week.label, _time(w.week.start, tz), _time(w.week.end, tz), w.runs,
            _num(w.p50_seconds), _num(w.p95_seconds), _num(w.value_seconds),
            _num(o.baseline_seconds if o is not None and is_plan(o) else None),
            _num(w.planned_seconds), _num(None if o is None else o.objective_seconds),
            _status(s, w), _flag(w.on_track), _flag(w.met),
        ])  # fmt: skip
    return out.getvalue()


def report_dict(report: FlowReport) -> dict[str, Any]:
    """The report as JSON-ready data (times as ISO 8601 in the report's time zone)."""
    tz = report.timezone

    def section(s: FlowSection) -> dict[str, Any]:
        o = s.scope.objective
        return {
            "channel": s.scope.channel, "target": s.scope.target,
            "percentile": None if o is None else float(o.percentile),
            "kind": None if o is None else ("plan" if is_plan(o) else "max"),
            "baseline_seconds": _round(o.baseline_seconds) if o is not None else None,
            "objective_seconds": None if o is None else _round(o.objective_seconds),
            "by": None if o is None or o.by is None else _time(o.by, tz),
            "since": None if o is None or o.since is None else _time(o.since, tz),
            "on_track": s.on_track,
            "weeks": [
                {"week": w.week.label, "start": _time(w.week.start, tz),
                 "end": _time(w.week.end, tz), "runs": w.runs,
                 "p50_seconds": _round(w.p50_seconds), "p95_seconds": _round(w.p95_seconds),
                 "value_seconds": _round(w.value_seconds),
                 "planned_seconds": _round(w.planned_seconds),
                 "status": _status(s, w), "on_track": w.on_track, "met": w.met}
                for w in s.weeks
            ],
        }  # fmt: skip

    return {
        "month": report.month,
        "timezone": tz,
        "start": _time(report.start, tz),
        "end": _time(report.end, tz),
        "generated_at": _time(report.generated_at, tz),
        "all_on_track": report.all_on_track,
        "objectives": [section(s) for s in report.sections],
    }


def render_json(report: FlowReport) -> str:
    """:func:`report_dict` as indented JSON."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


# ``pctl`` is the objective's percentile, ``value`` that percentile in the week.
HTML_HEAD: Final = ("channel", "target", "pctl", "week", "runs", "p50", "p95", "value",
                    "baseline", "planned", "objective", "on_track", "met")  # fmt: skip


def render_html(report: FlowReport) -> str:
    """A self-contained HTML page (no scripts, no external assets); every value escaped."""
    e = html.escape
    rows = []
    for s, w in _rows(report):
        pct, baseline, goal = _objective_cells(s)
        value, track, met_ = _cells(s, w)
        rows.append(
            f'<tr class="{_status(s, w)}"><td>{e(s.scope.channel)}</td>'
            f"<td>{e(s.scope.target)}</td><td>{pct}</td><td>{w.week.label}</td>"
            f"<td>{w.runs}</td><td>{_seconds(w.p50_seconds)}</td>"
            f"<td>{_seconds(w.p95_seconds)}</td><td>{value}</td><td>{baseline}</td>"
            f"<td>{_seconds(w.planned_seconds)}</td><td>{goal}</td><td>{track}</td>"
            f"<td>{met_}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in HTML_HEAD)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Journeys report {e(report.month)}</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px}tr.behind td{background:#fdd}"
        "tr.no_data td{color:#777}</style></head><body>"
        f"<h1>Journeys report {e(report.month)} ({e(report.timezone)})</h1>"
        f"<p>Generated {_time(report.generated_at, report.timezone)}.</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table></body></html>\n"
    )


RENDERERS: Final[Mapping[str, Callable[[FlowReport], str]]] = {
    "table": render_table,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}
