"""``omniwatch slo``, ``omniwatch report`` and ``omniwatch rules``: the SLO commands.

They read the history the running monitor writes (SQLite file or PostgreSQL); reads see
what was flushed, at most one flush interval behind the live process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, check_output, write_output
from monitor.config.model import Config
from monitor.slo.bindings import evaluate_all, exclusions, prometheus_slos, slo_bindings
from monitor.slo.budget import month_bounds, status_dict
from monitor.slo.consistency_report import ConsistencyScope, consistency_rows
from monitor.slo.render import RENDERERS
from monitor.slo.report import ReportScope, monthly_report, parse_month
from monitor.slo.rules import render_rules
from monitor.slo.table import render_rows, slo_rows
from monitor.store import ProbeStore, open_store


def _open(config: Config) -> ProbeStore:
    return open_store(config.store)


def cmd_slo(config: Config, args: argparse.Namespace) -> int:
    """Print every SLO's status; exit 1 if any is paging or has no data."""
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
    # No data is not "ok": a config that never ran, or a store that is not the monitor's.
    failed = any(s.alert == "page" or s.status == "no_data" for s in statuses)
    return EXIT_FAILED if failed else EXIT_OK


def report_scopes(config: Config) -> list[ReportScope]:
    """Each channel's objective and its targets' (their own, else the channel's)."""
    return [ReportScope(c.name, c.slo.objective, tuple(
        (t.name, (t.slo or c.slo).objective) for t in c.targets)) for c in config.channels]


def consistency_scopes(config: Config) -> list[ConsistencyScope]:
    """Each consistency dataset's reference, channels and objective."""
    return [ConsistencyScope(c.dataset, c.reference, c.channels, c.objective)
            for c in config.consistency]


def cmd_report(config: Config, args: argparse.Namespace) -> int:
    """Write the monthly SLA report; exit 1 if an objective was missed or has no data."""
    try:
        parse_month(args.month)
    except ValueError as exc:
        print(f"omniwatch report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.journeys:
        from monitor.cli.flowtime import cmd_report_journeys

        return cmd_report_journeys(config, args)
    output = None if args.output is None else check_output("-o", args.output)
    store = _open(config)
    try:
        scopes = consistency_scopes(config)
        start, end = month_bounds(*parse_month(args.month), config.slo.timezone)
        runs = store.consistency_history(start, until=end) if scopes else []
        report = monthly_report(store, args.month, report_scopes(config), exclusions(config),
                                time.time(), config.slo.timezone,
                                consistency_rows(scopes, runs))
    finally:
        store.close()
    text = RENDERERS[args.format](report)
    write_output("-o", output, text)
    return EXIT_OK if report.all_met and not report.no_data else EXIT_FAILED


def cmd_rules(config: Config, args: argparse.Namespace) -> int:
    """Write Prometheus recording and burn-rate alert rules for every SLO."""
    output = None if args.output is None else check_output("-o", args.output)
    text = render_rules(prometheus_slos(slo_bindings(config)))
    write_output("-o", output, text)
    return EXIT_OK
