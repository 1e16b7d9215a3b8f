"""``omniwatch run``: the monitor and its HTTP server until SIGTERM, reloading on SIGHUP."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from monitor.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    parse_listen,
    print_config_error,
    run_loop,
)
from monitor.config import ConfigError, load_config
from monitor.config.model import Config
from monitor.config.values import listen_url
from monitor.runtime.monitor import Monitor
from monitor.server import start_server
from monitor.store import ProbeStore, StoreUnavailable, open_store

log = logging.getLogger("omniwatch.cli")


def _open_store(config: Config) -> ProbeStore:
    """The history store; if its database is down, one that connects when it is back.

    Probing must not wait for the history: results are buffered meanwhile (as the
    README promises) and ``omniwatch_store_last_flush_success`` is 0 until they land.
    """
    try:
        return open_store(config.store)
    except StoreUnavailable as exc:
        # A lazy store opens nothing, but still refuses what no retry can fix (a
        # malformed DSN): that StoreUnavailable ends the run.
        store = open_store(config.store, lazy=True)
        log.error("store_unavailable", extra={"error": str(exc), "action": "retrying"})
        return store


def _close_store(store: ProbeStore) -> None:
    try:
        unwritten = store.close()
    except Exception as exc:  # close() does not raise; a bug must not cost the exit code
        log.error("store_close_failed", extra={"error": type(exc).__name__})
        return
    if unwritten:
        log.error("store_unwritten_at_exit", extra={"probes": unwritten})


async def serve(config: Config, config_path: str | None, host: str, port: int) -> int:
    """Run a monitor and its server until SIGTERM or SIGINT."""
    store = await asyncio.to_thread(_open_store, config)
    monitor = Monitor(config, config_path=config_path, store=store)
    try:
        runner, bound = await start_server(monitor, host, port)
    except OSError as exc:
        _close_store(store)
        # A usage error, as in `demo`: the address given cannot be used.
        log.error("listen_failed", extra={"address": listen_url(host, port, ""),
                                          "error": exc.strerror})
        return EXIT_USAGE
    monitor.start()
    log.info("listening", extra={"url": listen_url(host, bound, "/metrics")})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, monitor.request_reload)
    try:
        await stop.wait()
    finally:
        log.info("shutting_down")
        await monitor.stop()
        await runner.cleanup()
        await asyncio.to_thread(_close_store, store)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Load the config, then serve until stopped; exit 2 on a bad config or address."""
    listen = None if args.listen is None else parse_listen(args.listen)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_USAGE
    host, port = listen or (config.server.host, config.server.port)
    try:
        return run_loop(serve(config, args.config, host, port))
    except StoreUnavailable as exc:
        log.error("store_unavailable", extra={"error": str(exc)})
        return EXIT_FAILED
