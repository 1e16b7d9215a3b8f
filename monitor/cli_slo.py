"""``omniwatch slo``, ``omniwatch report`` and ``omniwatch rules``: the SLO commands.

They read the history the running monitor writes (SQLite file or PostgreSQL); reads see
what was flushed, at most one flush interval behind the live process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from monitor.model import Config
from monitor.report import ReportScope, monthly_report, parse_month
from monitor.report_render import RENDERERS
from monitor.rules import render_rules
from monitor.slo import SloStatus, status_dict
from monitor.slos import evaluate_all, exclusions, prometheus_slos, slo_bindings
from monitor.store import ProbeStore, open_store
from monitor.tables import format_table

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
                "n/a" if burn is None else f"{burn:.2f}x", o.alert.upper(),
                _forecast(o.exhaustion_seconds)])
    return rows


def render_rows(rows: list[list[str]]) -> str:
    """Rows as a fixed-width table."""
    return "\n".join(format_table(rows))


def _open(config: Config) -> ProbeStore:
    return open_store(config.store)


def cmd_slo(config: Config, args: argparse.Namespace) -> int:
    """Print every SLO's status; exit 1 if any is paging."""
    store = _open(config)
    try:
        bindings = slo_bindings(config)
        if args.slo:
            bindings = tuple(b for b in bindings if b.spec.name in args.slo)
            if not bindings:
                print(f"omniwatch slo: no SLO named {', '.join(args.slo)}", file=sys.stderr)
                return EXIT_USAGE
        statuses = evaluate_all(store, bindings, time.time())
    finally:
        store.close()
    if args.json:
        print(json.dumps({"slos": [status_dict(s) for s in statuses]}, indent=2))
    else:
        print(render_rows(slo_rows(statuses)))
    return EXIT_FAILED if any(s.alert == "page" for s in statuses) else EXIT_OK


def report_scopes(config: Config) -> list[ReportScope]:
    """Each channel's objective and its targets' (their own, else the channel's)."""
    return [ReportScope(c.name, c.slo.objective, tuple(
        (t.name, (t.slo or c.slo).objective) for t in c.targets)) for c in config.channels]


def cmd_report(config: Config, args: argparse.Namespace) -> int:
    """Write the monthly SLA report; exit 1 if an objective with data was missed."""
    try:
        parse_month(args.month)
    except ValueError as exc:
        print(f"omniwatch report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = _open(config)
    try:
        report = monthly_report(store, args.month, report_scopes(config), exclusions(config),
                                time.time(), config.slo.timezone)
    finally:
        store.close()
    text = RENDERERS[args.format](report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK if report.all_met else EXIT_FAILED


def cmd_rules(config: Config, args: argparse.Namespace) -> int:
    """Write Prometheus recording and burn-rate alert rules for every SLO."""
    text = render_rules(prometheus_slos(slo_bindings(config)))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: object) -> None:
    """Register the three commands on the main parser."""
    slo = sub.add_parser(
        "slo", help="availability SLOs: SLI per window, error budget, burn rate, status",
        description="One row per SLO (and per latency objective): SLI over 1h, 1d, 7d, 30d "
                    "and the calendar month, error budget left, fastest burn rate, "
                    "burn-rate alert status and when the budget runs out at the last "
                    "hour's rate. n/a means no counted probes. Exit 1 if any SLO pages.")
    slo.add_argument("-c", "--config", required=True, metavar="FILE")
    slo.add_argument("--slo", action="append", metavar="NAME", help="only this SLO (repeatable)")
    slo.add_argument("--json", action="store_true", help="machine-readable output")
    report = sub.add_parser(
        "report", help="monthly SLA report per channel and target",
        description="Achieved availability vs objective, downtime, incidents and excluded "
                    "maintenance for one calendar month. Exit 1 if an objective was missed.")
    report.add_argument("-c", "--config", required=True, metavar="FILE")
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--format", choices=sorted(RENDERERS), default="table")
    report.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    rules = sub.add_parser(
        "rules", help="Prometheus recording and burn-rate alert rules for the SLOs",
        description="Write Prometheus rules (multi-window, multi-burn-rate, SRE workbook "
                    "table) over omniwatch_probes_total; check with promtool check rules.")
    rules.add_argument("-c", "--config", required=True, metavar="FILE")
    rules.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    for p in (slo, report, rules):
        common(p)  # type: ignore[operator]
