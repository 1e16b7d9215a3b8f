"""The ``omniwatch`` command line.

Exit codes (the contract): 0 all good, 1 a probe/check failed or is below objective,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.config import ConfigError, load_config
from monitor.logs import setup_logging
from monitor.model import Config, Target
from monitor.store import StoreUnavailable, open_store

log = logging.getLogger("omniwatch.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="log line format on stderr (default: text)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   default="info", help="least severe level logged (default: info)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="omniwatch",
        description="Channel availability and cross-channel consistency monitor.",
        epilog="Exit codes: 0 all good, 1 a probe or check failed, 2 usage or config error.")
    parser.add_argument("--version", action="version", version=f"omniwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the monitor: probes, /metrics, alerts",
                         description="Run the monitor until SIGTERM. SIGHUP or "
                                     "POST /-/reload re-reads the config; a bad config is "
                                     "refused and the old one keeps running.")
    run.add_argument("-c", "--config", required=True, metavar="FILE", help="configuration file")
    run.add_argument("--listen", metavar="HOST:PORT",
                     help="override server.listen (port 0 picks a free port)")
    _add_common(run)

    probe = sub.add_parser(
        "probe", help="probe targets now and print the outcome",
        description="Probe configured targets (by --channel/--target) or an ad-hoc URL now. "
                    "Exit 0 if every probe succeeded, 1 if any failed.",
        epilog="examples:\n  omniwatch probe -c omniwatch.yaml --channel branch\n"
               "  omniwatch probe https://app.example/health --expect-status 200 --count 20\n"
               "  omniwatch probe tcp://10.1.2.3:8583 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument("url", nargs="?", metavar="URL",
                       help="ad-hoc http(s)://…, tcp://host:port, tcps://… or tls://host:port")
    probe.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    probe.add_argument("--channel", action="append", metavar="C",
                       help="probe every target of channel C (repeatable)")
    probe.add_argument("--target", action="append", metavar="NAME",
                       help="probe the configured target NAME (repeatable)")
    probe.add_argument("--count", type=int, default=1, metavar="N",
                       help="probe N times and summarise (success ratio, p50/p95)")
    probe.add_argument("--every", default="1s", metavar="DURATION",
                       help="pause between repeated probes (default 1s)")
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    adhoc = probe.add_argument_group("ad-hoc URL options")
    adhoc.add_argument("--timeout", default="5s", metavar="DURATION", help="default 5s")
    adhoc.add_argument("--method", help="HTTP method (default GET, POST with --body)")
    adhoc.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="repeatable")
    adhoc.add_argument("--body", help="request body")
    adhoc.add_argument("--expect-status", type=int, action="append", metavar="CODE",
                       help="accepted status (repeatable; default any 2xx)")
    adhoc.add_argument("--expect-body", metavar="REGEX",
                       help="regex the body (or tcp reply) must match")
    adhoc.add_argument("--expect-json", action="append", metavar="PATH=VALUE",
                       help="JSON field expectation, e.g. status=UP (repeatable)")
    adhoc.add_argument("--latency", metavar="DURATION",
                       help="slower successes are reported as degraded")
    adhoc.add_argument("--send", help="tcp: bytes to send after connecting")
    adhoc.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    adhoc.add_argument("--insecure", action="store_true", help="skip TLS verification")
    adhoc.add_argument("--ca-file", metavar="FILE", help="CA bundle for TLS verification")
    adhoc.add_argument("--confirm", type=int, default=0, metavar="N",
                       help="re-attempt a failure N times before reporting it")
    _add_common(probe)

    config = sub.add_parser("config", help="configuration tools")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = csub.add_parser(
        "validate", help="check a configuration file and list every problem",
        description="Validate FILE; print every problem with its path. Exit 0 valid, 2 not.")
    validate.add_argument("file", metavar="FILE")
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    from monitor.cli_consistency import add_parsers as add_consistency
    from monitor.cli_slo import add_parsers as add_slo

    add_slo(sub, _add_common)
    add_consistency(sub, _add_common)

    demo = sub.add_parser(
        "demo", help="run against simulated app, website, mini-program and branch backends",
        description="Start four simulated channel backends on loopback (healthy, flaky, slow, "
                    "outage) and monitor them on the embedded defaults. Ctrl-C stops it.")
    demo.add_argument("--duration", metavar="DURATION",
                      help="stop after this long (default: until Ctrl-C)")
    demo.add_argument("--listen", default="127.0.0.1:9470", metavar="HOST:PORT",
                      help="where to serve /metrics (default 127.0.0.1:9470; port 0 = any)")
    demo.add_argument("--db", default="omniwatch-demo.db", metavar="FILE",
                      help="SQLite history file (default omniwatch-demo.db)")
    _add_common(demo)
    return parser


def _print_config_error(exc: ConfigError) -> None:
    for p in exc.problems:
        print(f"error: {p}", file=sys.stderr)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"omniwatch: error: --listen {value!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve(config: Config, config_path: str | None, host: str, port: int,
                stop_after: float | None = None, on_ready: object = None) -> int:
    """Run a monitor and its server until SIGTERM/SIGINT (or ``stop_after`` seconds)."""
    from monitor.runtime import Monitor
    from monitor.server import start_server

    store = open_store(config.store)
    monitor = Monitor(config, config_path=config_path, store=store)
    try:
        runner, bound = await start_server(monitor, host, port)
    except OSError as exc:
        store.close()
        log.error("listen_failed", extra={"address": f"{host}:{port}", "error": exc.strerror})
        return EXIT_FAILED
    monitor.start()
    log.info("listening", extra={"url": f"http://{host}:{bound}/metrics"})
    if callable(on_ready):
        on_ready(bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, monitor.reload)
    try:
        if stop_after is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), stop_after)
    finally:
        log.info("shutting_down")
        await monitor.stop()
        await runner.cleanup()
        store.close()
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _print_config_error(exc)
        return EXIT_USAGE
    host, port = config.server.host, config.server.port
    if args.listen:
        host, port = _listen(args.listen)
    try:
        return run_loop(serve(config, args.config, host, port))
    except StoreUnavailable as exc:
        log.error("store_unavailable", extra={"error": str(exc)})
        return EXIT_FAILED


def cmd_probe(args: argparse.Namespace) -> int:
    from monitor.cli_probe import UsageError, adhoc_target, run_probe

    if args.count < 1:
        print("omniwatch probe: --count must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    targets: list[Target] = []
    try:
        if args.url:
            if args.channel or args.target:
                raise UsageError("give either a URL or --channel/--target, not both")
            targets.append(adhoc_target(args.url, args))
        else:
            if not args.config:
                raise UsageError("give a URL, or -c FILE with --channel/--target")
            config = load_config(args.config)
            chosen = list(config.targets)
            if args.channel:
                known = {c.name for c in config.channels}
                for c in args.channel:
                    if c not in known:
                        names = ", ".join(sorted(known))
                        raise UsageError(f"unknown channel {c!r} (known: {names})")
                chosen = [t for t in chosen if t.channel in args.channel]
            if args.target:
                for name in args.target:
                    if config.target(name) is None:
                        raise UsageError(f"unknown target {name!r} in {args.config}")
                chosen = [t for t in chosen if t.name in args.target]
            if not chosen:
                raise UsageError("no targets selected")
            targets = chosen
    except ConfigError as exc:
        _print_config_error(exc)
        return EXIT_USAGE
    except (UsageError, ValueError) as exc:
        print(f"omniwatch probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_probe(targets, args)


def cmd_config(args: argparse.Namespace) -> int:
    import json

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"valid": False, "problems": [
                {"file": p.file, "path": p.path, "message": p.message} for p in exc.problems]},
                indent=2))
        else:
            _print_config_error(exc)
        return EXIT_USAGE
    summary = {c.name: len(c.targets) for c in config.channels}
    if args.json:
        print(json.dumps({"valid": True, "targets": summary}, indent=2))
    else:
        total = sum(summary.values())
        detail = ", ".join(f"{k}: {v}" for k, v in summary.items())
        print(f"{args.file}: valid ({total} targets{'; ' + detail if detail else ''})")
    return EXIT_OK


def _with_config(module: str, name: str) -> object:
    def run(args: argparse.Namespace) -> int:
        import importlib

        try:
            config = load_config(args.config)
        except ConfigError as exc:
            _print_config_error(exc)
            return EXIT_USAGE
        try:
            return int(getattr(importlib.import_module(module), name)(config, args))
        except StoreUnavailable as exc:
            print(f"omniwatch {args.command}: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.config import parse_duration
    from monitor.demo import run_demo

    duration = parse_duration(args.duration) if args.duration else None
    host, port = _listen(args.listen)
    return run_loop(run_demo(host, port, duration, args.db))


def run_loop(coro: object) -> int:
    """Run ``coro`` on uvloop where available (cheaper per probe), else asyncio."""
    try:
        import uvloop

        runner: object = uvloop.run
    except ImportError:
        runner = asyncio.run
    return int(runner(coro))  # type: ignore[operator]


COMMANDS: dict[str, object] = {
    "run": cmd_run, "probe": cmd_probe, "config": cmd_config, "demo": cmd_demo,
    "slo": _with_config("monitor.cli_slo", "cmd_slo"),
    "report": _with_config("monitor.cli_slo", "cmd_report"),
    "rules": _with_config("monitor.cli_slo", "cmd_rules"),
    "consistency": lambda args: _with_config(
        "monitor.cli_consistency", f"cmd_{args.consistency_command}")(args),  # type: ignore[operator]
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omniwatch`` console script."""
    args = build_parser().parse_args(argv)
    setup_logging(getattr(args, "log_format", "text"), getattr(args, "log_level", "info"))
    try:
        return int(COMMANDS[args.command](args))  # type: ignore[operator]
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
