"""The ``omniwatch`` entry point: parse, set up logging, run one command.

Exit codes (the contract): 0 all good, 1 a probe/check failed or is below objective,
2 usage or configuration error.

Each command's module is imported only when that command runs, so an on-call engineer's
``omniwatch probe tcp://...`` never loads the history store, the consistency engine or
its database drivers (``bench/startup.py``).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence

from monitor.cli.parser import build_parser


def _run(args: argparse.Namespace) -> int:
    from monitor.cli.run import cmd_run

    return cmd_run(args)


def _probe(args: argparse.Namespace) -> int:
    from monitor.cli.probe import cmd_probe

    return cmd_probe(args)


def _config(args: argparse.Namespace) -> int:
    from monitor.cli.config import cmd_validate

    return cmd_validate(args)


def _slo(args: argparse.Namespace) -> int:
    from monitor.cli import slo
    from monitor.cli.common import with_config

    command = {"slo": slo.cmd_slo, "report": slo.cmd_report, "rules": slo.cmd_rules}
    return with_config(args, command[args.command])


def _consistency(args: argparse.Namespace) -> int:
    from monitor.cli import consistency
    from monitor.cli.common import with_config

    command = {"check": consistency.cmd_check, "history": consistency.cmd_history}
    return with_config(args, command[args.consistency_command])


def _alerts(args: argparse.Namespace) -> int:
    from monitor.cli import alerts
    from monitor.cli.common import with_config

    command = {"list": alerts.cmd_list, "test": alerts.cmd_test}
    return with_config(args, command[args.alerts_command])


def _silence(args: argparse.Namespace) -> int:
    from monitor.cli import alerts
    from monitor.cli.common import with_config

    command = {"add": alerts.cmd_silence_add, "list": alerts.cmd_silence_list,
               "expire": alerts.cmd_silence_expire}
    return with_config(args, command[args.silence_command])


def _demo(args: argparse.Namespace) -> int:
    from monitor.cli.demo import cmd_demo

    return cmd_demo(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _run, "probe": _probe, "config": _config, "demo": _demo,
    "slo": _slo, "report": _slo, "rules": _slo, "consistency": _consistency,
    "alerts": _alerts, "silence": _silence,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omniwatch`` console script."""
    args = build_parser().parse_args(argv)
    from monitor.cli.common import EXIT_USAGE, UsageError
    from monitor.logs import setup_logging  # after parsing: --help and --version skip it

    setup_logging(getattr(args, "log_format", "text"), getattr(args, "log_level", "info"))
    # A key with a broken byte (kept as a lone surrogate) or a name the terminal's encoding
    # lacks is escaped (\udcff), never a UnicodeEncodeError halfway through a report.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        name = " ".join(filter(None, (args.command, getattr(args, "config_command", None),
                                      getattr(args, "consistency_command", None),
                                      getattr(args, "alerts_command", None),
                                      getattr(args, "silence_command", None))))
        for message in exc.messages:
            print(f"omniwatch {name}: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `omniwatch probe --json | head`: the reader has what it wanted.  Point stdout at
        # /dev/null so the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a killed writer


if __name__ == "__main__":
    sys.exit(main())
