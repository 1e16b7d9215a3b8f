"""``omniwatch config validate``: every problem of a file, with its path, or a summary."""

from __future__ import annotations

import argparse
import json

from monitor.cli.common import EXIT_OK, EXIT_USAGE, UsageError, print_config_error
from monitor.config import ConfigError, load_config


def cmd_validate(args: argparse.Namespace) -> int:
    """Exit 0 and a one-line summary when valid; 2 and every problem when not."""
    if (args.file is None) == (args.config is None):
        raise UsageError("give the file to check, as FILE or -c FILE (one of them)")
    args.file = args.file or args.config
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"valid": False, "problems": [
                {"file": p.file, "path": p.path, "message": p.message} for p in exc.problems]},
                indent=2))
        else:
            print_config_error(exc)
        return EXIT_USAGE
    summary = {c.name: len(c.targets) for c in config.channels}
    if args.json:
        print(json.dumps({"valid": True, "targets": summary}, indent=2))
    else:
        total = sum(summary.values())
        detail = ", ".join(f"{k}: {v}" for k, v in summary.items())
        print(f"{args.file}: valid ({total} targets{'; ' + detail if detail else ''})")
    return EXIT_OK
