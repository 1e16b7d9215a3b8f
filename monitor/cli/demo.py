"""``omniwatch demo``: the whole product on loopback, until Ctrl-C or ``--duration``."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.cli.common import UsageError, check_output, duration_arg, parse_listen, run_loop


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 2 on a bad flag or if its address is taken."""
    duration = None if args.duration is None else duration_arg("--duration", args.duration)
    host, port = parse_listen(args.listen)
    db = None if args.db is None else check_output("--db", args.db)
    if args.alertmanager is not None and not args.alertmanager.startswith(
            ("http://", "https://")):
        raise UsageError(f"--alertmanager {args.alertmanager!r}: not an http(s) URL")
    # Imported after the checks: a typo costs no aiohttp import.
    from monitor.demo.run import DemoOptions, run_demo

    return run_loop(run_demo(DemoOptions(
        host=host, port=port, duration=duration, db=None if db is None else Path(db).resolve(),
        keep=args.keep, alertmanager=args.alertmanager)))
