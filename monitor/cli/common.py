"""What every command shares: exit codes, config loading with its error output, ``--listen``
and the event loop.  Cheap to import: the loop and the store are loaded when used."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from monitor.config import ConfigError, load_config

if TYPE_CHECKING:
    from monitor.config.model import Config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def print_config_error(exc: ConfigError) -> None:
    """Every problem of a refused configuration, one ``error:`` line each, on stderr."""
    for p in exc.problems:
        print(f"error: {p}", file=sys.stderr)


def with_config(args: argparse.Namespace,
                command: Callable[[Config, argparse.Namespace], int]) -> int:
    """Load ``args.config`` and run ``command`` on it; exit 2 on a bad file, 1 when the
    history store cannot be opened."""
    from monitor.store import StoreUnavailable

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_USAGE
    try:
        return command(config, args)
    except StoreUnavailable as exc:
        print(f"omniwatch {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:0`` too) as a pair; a usage error otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"omniwatch: error: --listen {value!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def run_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` on uvloop where available (cheaper per probe), else asyncio."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return int(asyncio.run(coro))
    return int(uvloop.run(coro))
