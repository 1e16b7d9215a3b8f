"""The steps of journey and browser targets in ``omniwatch probe``: summary and table rows.

With ``--count N`` each step gets its own success count and p50/p95 over the runs in
which it ran, so a slow step stands out from a slow journey.  Nothing shown is a
variable, an extracted value or a body: only what :mod:`monitor.flows` allows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from monitor.config.model import Target
from monitor.flows import step_facts, step_requests
from probes.result import ProbeResult


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (inclusive method) of at least one value."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarise_steps(target: Target, results: Sequence[ProbeResult]) -> list[dict[str, object]]:
    """Every step of the last result, with counts and percentiles over all ``results``.

    Each entry is :func:`~monitor.flows.step_facts` of the last run, plus ``request``
    (the configured template), ``runs`` (results that reported the step), ``ran`` (not
    skipped), ``succeeded`` and ``duration_p50_seconds`` / ``duration_p95_seconds`` over
    the runs in which it ran (None if it never did).
    """
    requests = step_requests(target)
    durations: dict[str, list[float]] = {}
    runs: dict[str, int] = {}
    succeeded: dict[str, int] = {}
    for r in results:
        for s in r.steps:
            runs[s.name] = runs.get(s.name, 0) + 1
            succeeded[s.name] = succeeded.get(s.name, 0) + (1 if s.success else 0)
            if not s.skipped:
                durations.setdefault(s.name, []).append(s.duration_seconds)
    out = []
    for s in results[-1].steps:
        ran = durations.get(s.name, [])
        out.append({
            **step_facts(s), "request": requests.get(s.name),
            "runs": runs[s.name], "ran": len(ran), "succeeded": succeeded[s.name],
            "duration_p50_seconds": percentile(ran, 50) if ran else None,
            "duration_p95_seconds": percentile(ran, 95) if ran else None,
        })
    return out


def _ms(seconds: object) -> str:
    return f"{seconds * 1000:.0f}ms" if isinstance(seconds, int | float) else "-"


def step_rows(steps: Sequence[dict[str, object]], repeated: bool,
              width: int) -> list[tuple[list[str], str]]:
    """Table rows (``width`` cells) for a target's steps, each with its message.

    Columns follow the probe table: channel (blank), the indented step name, ok/FAIL/
    skipped, reason, status, then the latency (or, with ``repeated``, OK and p50/p95).
    """
    rows = []
    for s in steps:
        name = f"finally {s['name']}" if s["final"] else str(s["name"])
        outcome = "skipped" if s["skipped"] else "ok" if s["success"] else "FAIL"
        reason = "" if s["reason"] in ("ok", "skipped") else str(s["reason"])
        status = "-" if s["status_code"] is None else str(s["status_code"])
        cells = ["", f"  {name}", outcome, reason, status]
        if repeated:
            cells += [f"{s['succeeded']}/{s['runs']}", _ms(s["duration_p50_seconds"]),
                      _ms(s["duration_p95_seconds"])]
        else:
            cells.append("-" if s["skipped"] else _ms(s["duration_seconds"]))
        cells += [""] * (width - len(cells))
        rows.append((cells, str(s["message"] or "")))
    return rows

