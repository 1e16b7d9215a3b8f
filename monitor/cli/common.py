"""What every command shares: exit codes, config loading with its error output, ``--listen``
and the event loop.  Cheap to import: the loop and the store are loaded when used."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config import ConfigError, load_config
from monitor.config import values as config_values
from monitor.logs import json_logging

if TYPE_CHECKING:
    from monitor.config.model import Config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("omniwatch.config")


class UsageError(Exception):
    """The command line asks for something impossible: exit 2, each message on one line
    ``omniwatch COMMAND: message`` (printed by :func:`monitor.cli.main.main`)."""

    def __init__(self, *messages: str) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


def print_config_error(exc: ConfigError) -> None:
    """Every problem of a refused configuration, one ``error:`` line each, on stderr.

    Under ``--log-format json`` each problem is a ``config_error`` event instead (with
    ``file``, ``path`` and ``problem`` fields), so a log pipeline reading JSON lines
    sees why the process refused to start rather than unparseable text.
    """
    if json_logging():
        for p in exc.problems:
            log.error("config_error", extra={"file": p.file, "path": p.path,
                                             "problem": p.message})
        return
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


def parse_listen(value: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:0`` too) as a pair, read as ``server.listen`` is; a usage
    error otherwise."""
    try:
        return config_values.parse_listen(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def duration_arg(flag: str, text: str, *, zero_ok: bool = False) -> float:
    """Seconds in a command-line duration, read as the config reads one: ``30s``, ``1h30m``,
    and a bare number is seconds.  Zero is refused unless ``zero_ok``."""
    value = config_values.duration_text(text)
    try:
        seconds = config_values.parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if seconds <= 0 and not zero_ok:  # worded as the config's check words it
        raise UsageError(f"{flag}: {config_values.show(value)} must be greater than zero")
    return seconds


def check_output(flag: str, path: str) -> Path:
    """``path`` if a file can be written there, before any work is done; a usage error
    naming the folder otherwise."""
    p = Path(path)
    folder = p.parent
    if p.is_dir():
        raise UsageError(f"{flag} {path!r}: is a directory")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{flag} {path!r}: not writable")
    return p


def write_output(flag: str, path: Path | None, text: str) -> None:
    """Write ``text`` to ``path`` (stdout when None); a failure (disk full, removed folder)
    is a usage error."""
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag} {str(path)!r}: cannot write: {exc.strerror}") from None


def run_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` on uvloop where available (cheaper per probe), else asyncio."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        return int(asyncio.run(coro))
    return int(uvloop.run(coro))
