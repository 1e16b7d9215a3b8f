"""``omniwatch demo``: the simulated channels and a monitor, until Ctrl-C or ``--duration``."""

from __future__ import annotations

import argparse

from monitor.cli.common import check_output, duration_arg, parse_listen, run_loop


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 2 on a bad flag or if its address is taken."""
    duration = None if args.duration is None else duration_arg("--duration", args.duration)
    host, port = parse_listen(args.listen)
    check_output("--db", args.db)
    from monitor.demo import run_demo  # after the checks: a typo costs no aiohttp import

    return run_loop(run_demo(host, port, duration, args.db))
