"""The SQL the store reads with, and how its rows become values.  Pure: text in, text out.

Every function takes ``p``, the driver's placeholder (``?`` for SQLite, ``%s`` for
psycopg), and returns the statement with its parameters; :class:`~.sql.SqlProbeStore`
runs them on its connection.  Bucket starts are whole seconds, so a window's start is
rounded up (:func:`ceil_second`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from monitor.slo.budget import Counts
from monitor.slo.flowtime import FLOW_BINS, FlowHistogram
from monitor.store.buckets import (
    FLOW_COLUMNS,
    HISTOGRAM_BINS,
    VALUE_COLUMNS,
    BucketTotals,
    Incident,
)

Kind = Literal["channel", "target"]
Resolution = Literal["minute", "hour"]
Query = tuple[str, list[Any]]

SUMS: Final = ", ".join(f"SUM({c})" for c in VALUE_COLUMNS if c != "reason")
_RUN_COLUMNS: Final = ("started_at, reference, channel, mode, success, ratio, objective, "
                       "judged, counts, field_mismatches, duration_seconds, error, dataset")


# Scalar two-argument least/greatest: SQLite's min()/max() (aggregates with one argument),
# PostgreSQL's LEAST()/GREATEST() (it has no scalar min()).  Both columns are NOT NULL.
_EXTREMES: Final = {"sqlite": ("min", "max"), "postgres": ("LEAST", "GREATEST")}


def flow_updates(dialect: str) -> str:
    """The ``SET`` list adding a ``flow_hour`` row into the stored one in ``dialect``.

    Counts and sums add; an empty bin is NULL on both sides, and the sum of a NULL and a
    count is the count; the fastest run is the lesser, the slowest the greater.  All of
    it commutes, like the bucket tables' upserts (replicas, a re-queued batch).
    """
    least, greatest = _EXTREMES[dialect]

    def update(c: str) -> str:
        if c in ("runs", "duration_sum"):
            return f"{c} = flow_hour.{c} + excluded.{c}"
        if c == "min_duration":
            return f"{c} = {least}(flow_hour.{c}, excluded.{c})"
        if c == "max_duration":
            return f"{c} = {greatest}(flow_hour.{c}, excluded.{c})"
        return f"{c} = COALESCE(flow_hour.{c} + excluded.{c}, flow_hour.{c}, excluded.{c})"

    return ", ".join(update(c) for c in FLOW_COLUMNS)


def table(kind: Kind, resolution: Resolution) -> str:
    """The bucket table of one kind and resolution, e.g. ``target_minute``."""
    return f"{kind}_{resolution}"


def ceil_second(t: float) -> int:
    """The first whole second at or after ``t``: bucket starts are whole seconds."""
    whole = int(t)
    return whole if whole == t or t < 0 else whole + 1


def where_names(kind: Kind, names: Sequence[str] | None, p: str) -> Query:
    """`` AND kind IN (...)`` limiting a query to ``names`` (nothing for None)."""
    if names is None:
        return "", []
    if not names:
        return " AND 1 = 0", []
    return f" AND {kind} IN ({', '.join([p] * len(names))})", list(names)


def window_scan(kind: Kind, resolution: Resolution, spans: Sequence[tuple[str, float]],
                now: float, names: Sequence[str] | None, p: str) -> Query:
    """One scan summing good, total and degraded for every ``(label, start)`` span."""
    selects, params = [], []
    for _, start in spans:
        for col in ("good", "total", "degraded"):
            selects.append(f"SUM(CASE WHEN start >= {p} THEN {col} ELSE 0 END)")
            params.append(ceil_second(start))
    where, where_params = where_names(kind, names, p)
    sql = (f"SELECT {kind}, {', '.join(selects)} FROM {table(kind, resolution)} "
           f"WHERE start >= {p} AND start < {p}{where} GROUP BY {kind}")
    lowest = min(ceil_second(s) for _, s in spans)
    return sql, [*params, lowest, now, *where_params]


def window_rows(rows: Sequence[Sequence[Any]], spans: Sequence[tuple[str, float]],
                out: dict[str, dict[str, Counts]]) -> None:
    """Add the rows of :func:`window_scan` to ``out`` (name → label → counts)."""
    for row in rows:
        per = out.setdefault(row[0], {})
        for i, (label, _) in enumerate(spans):
            good, total, degraded = row[1 + 3 * i: 4 + 3 * i]
            per[label] = Counts(int(good or 0), int(total or 0), int(degraded or 0))


def series(kind: Kind, name: str, resolution: Resolution, start: float, end: float,
           p: str) -> Query:
    """The buckets of one name whose start lies in ``[start, end)``, in order."""
    sql = (f"SELECT start, {', '.join(VALUE_COLUMNS)} FROM {table(kind, resolution)} "
           f"WHERE {kind} = {p} AND start >= {p} AND start < {p} ORDER BY start")
    return sql, [name, ceil_second(start), end]


def totals(kind: Kind, start: float, end: float, names: Sequence[str] | None,
           p: str) -> Query:
    """Hour buckets summed per name over ``[start, end)``."""
    where, where_params = where_names(kind, names, p)
    sql = (f"SELECT {kind}, MIN(start), {SUMS} FROM {table(kind, 'hour')} "
           f"WHERE start >= {p} AND start < {p}{where} GROUP BY {kind}")
    return sql, [ceil_second(start), end, *where_params]


def bucket_totals(row: Sequence[Any]) -> BucketTotals:
    """A bucket row (start, the value columns) as :class:`BucketTotals`."""
    start, good, total, degraded, excluded, latency_sum = row[:6]
    return BucketTotals(
        start=int(start),
        good=int(good or 0),
        total=int(total or 0),
        degraded=int(degraded or 0),
        excluded=int(excluded or 0),
        latency_sum=float(latency_sum or 0.0),
        histogram=tuple(int(h or 0) for h in row[6: 6 + HISTOGRAM_BINS]),
        reason=row[6 + HISTOGRAM_BINS],
    )


def flow_hours(start: float, end: float, names: Sequence[str] | None, p: str) -> Query:
    """The flow-time rows whose start lies in ``[start, end)``, per target in order."""
    where, where_params = where_names("target", names, p)
    sql = (f"SELECT target, start, {', '.join(FLOW_COLUMNS)} FROM flow_hour "
           f"WHERE start >= {p} AND start < {p}{where} ORDER BY target, start")
    return sql, [ceil_second(start), end, *where_params]


def flow_first(names: Sequence[str] | None, p: str) -> Query:
    """The first flow-time hour per target."""
    where, where_params = where_names("target", names, p)
    return (f"SELECT target, MIN(start) FROM flow_hour WHERE 1 = 1{where} GROUP BY target",
            where_params)


def flow_histogram(row: Sequence[Any]) -> FlowHistogram:
    """A ``flow_hour`` row (start, then the flow columns) as a histogram."""
    start, runs, duration_sum, lowest, highest = row[:5]
    bins = {i: int(n) for i, n in enumerate(row[5: 5 + FLOW_BINS]) if n}
    return FlowHistogram(int(start), int(runs or 0), float(duration_sum or 0.0), bins,
                         None if lowest is None else float(lowest),
                         None if highest is None else float(highest))


def incidents(start: float, end: float, channel: str | None, target: str | None,
              p: str) -> Query:
    """Incidents overlapping ``[start, end)``, ordered by start."""
    sql = ("SELECT channel, target, start, end_ts, reason FROM incidents "
           f"WHERE start < {p} AND (end_ts IS NULL OR end_ts > {p})")
    params: list[Any] = [end, start]
    if channel is not None:
        sql += f" AND channel = {p}"
        params.append(channel)
    if target is not None:
        sql += f" AND target = {p}"
        params.append(target)
    return sql + " ORDER BY start, target", params


def incident(row: Sequence[Any]) -> Incident:
    """An incident row as :class:`Incident`."""
    return Incident(row[0], row[1], float(row[2]), None if row[3] is None else float(row[3]),
                    row[4])


def insert_run(run: Mapping[str, Any], p: str) -> Query:
    """Store one consistency run (a ``report_to_dict`` view; samples are not stored)."""
    row = [run["started_at_ts"], run["reference"], run["channel"], run["mode"],
           1 if run["success"] else 0, run["ratio"], run["objective"], run["judged"],
           json.dumps(run["counts"], sort_keys=True),
           json.dumps(run["field_mismatches"], sort_keys=True),
           run["duration_seconds"], run["error"], run.get("dataset", "customers")]
    return (f"INSERT INTO consistency_runs ({_RUN_COLUMNS}) VALUES ({', '.join([p] * 13)})",
            row)


def runs_since(since: float, channel: str | None, p: str, until: float | None = None,
               datasets: Sequence[str] = ()) -> Query:
    """Consistency runs started in ``[since, until)`` (of ``datasets``, if given), oldest
    first."""
    sql = f"SELECT {_RUN_COLUMNS} FROM consistency_runs WHERE started_at >= {p}"
    params: list[Any] = [since]
    if until is not None:
        sql += f" AND started_at < {p}"
        params.append(until)
    if channel is not None:
        sql += f" AND channel = {p}"
        params.append(channel)
    if datasets:
        sql += f" AND dataset IN ({', '.join([p] * len(datasets))})"
        params.extend(datasets)
    return sql + " ORDER BY started_at, dataset, channel", params


def run_of(r: Sequence[Any]) -> dict[str, Any]:
    """A consistency run row as the dict ``consistency history`` prints."""
    return {"started_at": float(r[0]), "reference": r[1], "channel": r[2], "mode": r[3],
            "success": bool(r[4]), "ratio": None if r[5] is None else float(r[5]),
            "objective": float(r[6]), "judged": int(r[7]), "counts": json.loads(r[8]),
            "field_mismatches": json.loads(r[9]), "duration_seconds": float(r[10]),
            "error": r[11], "dataset": r[12]}
