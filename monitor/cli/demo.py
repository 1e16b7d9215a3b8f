"""``omniwatch demo``: the simulated channels and a monitor, until Ctrl-C or ``--duration``."""

from __future__ import annotations

import argparse

from monitor.cli.common import parse_listen, run_loop
from monitor.config import parse_duration
from monitor.demo import run_demo


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 2 if its address is taken."""
    duration = parse_duration(args.duration) if args.duration else None
    host, port = parse_listen(args.listen)
    return run_loop(run_demo(host, port, duration, args.db))
