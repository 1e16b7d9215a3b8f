"""The ``omniwatch slo`` table: one row per objective, as the CLI and the demo print it."""

from __future__ import annotations

from monitor.slo.budget import SloStatus
from monitor.tables import format_table


def _pct(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def _forecast(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "spent"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    return f"{seconds / 3600:.1f}h"


def slo_rows(statuses: list[SloStatus]) -> list[list[str]]:
    """One table row per objective (availability, and latency when configured)."""
    rows = [["SLO", "OBJECTIVE", "1H", "1D", "7D", "30D", "MONTH", "BUDGET LEFT",
             "FASTEST BURN", "STATUS", "EXHAUSTED IN"]]
    for st in statuses:
        parts = [(st.spec.name, st.availability)]
        if st.latency is not None:
            parts.append((f"{st.spec.name}-latency", st.latency))
        for name, o in parts:
            burn = o.fastest_burn_rate
            left = o.budget_remaining_ratio
            rows.append([
                name, _pct(o.objective), *[_pct(o.sli.get(w)) for w in
                                           ("1h", "1d", "7d", "30d", "month")],
                "n/a" if left is None else f"{left * 100:.1f}%"
                + ("" if o.budget_remaining_minutes is None
                   else f" ({o.budget_remaining_minutes:.1f}m)"),
                "n/a" if burn is None else f"{burn:.2f}x", o.status.replace("_", " ").upper(),
                _forecast(o.exhaustion_seconds)])
    return rows


def render_rows(rows: list[list[str]]) -> str:
    """Rows as a fixed-width table."""
    return "\n".join(format_table(rows))
