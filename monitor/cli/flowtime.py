"""``omniwatch report --journeys``: flow time of journey and browser targets per week."""

from __future__ import annotations

import argparse
import sys
import time

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, check_output, write_output
from monitor.config.model import Config
from monitor.slo.flowrender import RENDERERS
from monitor.slo.flowreport import flow_report, flow_scopes
from monitor.store import open_store


def cmd_report_journeys(config: Config, args: argparse.Namespace) -> int:
    """Write the journeys report (``--month`` already checked by the caller).

    Exit 1 if an objective with data is not on track in its last week with data.
    Without objectives the flow targets' percentiles are listed (exit 0); without any
    flow target there is nothing to report (exit 2).
    """
    scopes = flow_scopes(config)
    if not scopes:
        print("omniwatch report: --journeys: no journey or browser target is configured",
              file=sys.stderr)
        return EXIT_USAGE
    output = None if args.output is None else check_output("-o", args.output)
    store = open_store(config.store)
    try:
        report = flow_report(store, args.month, scopes, time.time(), config.slo.timezone)
    finally:
        store.close()
    text = RENDERERS[args.format](report)
    write_output("-o", output, text)
    return EXIT_OK if report.all_on_track else EXIT_FAILED
