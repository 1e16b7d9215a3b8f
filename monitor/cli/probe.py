"""``omniwatch probe``: probe a channel, a target or an ad-hoc URL by hand, now.

Built for on-call at 3 a.m.: a readable table on a terminal, ``--json`` for scripts,
progress only when a person is watching, and exit 0 only when every probe succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from monitor.cli.common import EXIT_USAGE, print_config_error
from monitor.config import ConfigError, load_config, parse_duration
from monitor.config.model import HttpExpect, HttpSpec, Target, TcpSpec, TlsClientConfig, TlsSpec
from monitor.redact import netloc_without_userinfo, without_userinfo
from monitor.tables import format_table
from probes import PROBES
from probes.context import ProbeContext
from probes.result import PHASES, ProbeResult
from probes.runner import run_target


class UsageError(Exception):
    """The command line asks for something impossible (exit code 2)."""


@dataclass(slots=True)
class Series:
    """All results of one target in this invocation."""

    target: Target
    results: list[ProbeResult] = field(default_factory=list)


def adhoc_target(url: str, args: argparse.Namespace) -> Target:
    """A :class:`Target` for an ad-hoc ``http(s)://``, ``tcp://`` or ``tls://`` address."""
    parts = urlsplit(url)
    timeout = parse_duration(args.timeout)
    latency = parse_duration(args.latency) if args.latency else None
    if args.ca_file and not Path(args.ca_file).is_file():
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    tls = TlsClientConfig(ca_file=args.ca_file, insecure_skip_verify=args.insecure)
    if parts.scheme in ("http", "https"):
        headers = []
        for h in args.header or []:
            k, sep, v = h.partition(":")
            if not sep:
                raise UsageError(f"--header {h!r}: expected 'Name: value'")
            headers.append((k.strip(), v.strip()))
        json_fields = {}
        for kv in args.expect_json or []:
            k, sep, v = kv.partition("=")
            if not sep:
                raise UsageError(f"--expect-json {kv!r}: expected path=value")
            try:
                json_fields[k] = json.loads(v)
            except json.JSONDecodeError:
                json_fields[k] = v
        spec: HttpSpec | TcpSpec | TlsSpec = HttpSpec(
            url=url, method=args.method or ("POST" if args.body else "GET"),
            headers=tuple(headers), body=args.body, follow_redirects=not args.no_follow,
            tls=tls, expect=HttpExpect(
                status=tuple(args.expect_status or ()), body_regex=args.expect_body,
                json=json_fields, latency_seconds=latency))
        kind = "http"
    elif parts.scheme in ("tcp", "tcps", "tls") and parts.hostname and parts.port:
        if parts.scheme == "tls":
            spec, kind = TlsSpec(host=parts.hostname, port=parts.port, tls_config=tls,
                                 latency_seconds=latency), "tls"
        else:
            spec, kind = TcpSpec(host=parts.hostname, port=parts.port,
                                 tls=parts.scheme == "tcps", tls_config=tls, send=args.send,
                                 expect_regex=args.expect_body,
                                 latency_seconds=latency), "tcp"
    else:
        raise UsageError(f"{without_userinfo(url)!r}: use http(s)://host/path, tcp://host:port, "
                         "tcps://host:port or tls://host:port")
    # The name is shown (TARGET column, messages, --json): never with its user-info.
    name = netloc_without_userinfo(url) or without_userinfo(url)
    return Target(name=name, channel="adhoc", kind=kind, spec=spec, timeout_seconds=timeout,
                  interval_seconds=max(timeout, 1.0), confirm=args.confirm)


def _names(names: Iterable[str], most: int = 20) -> str:
    """Sorted ``names`` for a message, at most ``most`` of them."""
    known = sorted(names)
    if not known:
        return "none"
    more = f", … and {len(known) - most} more" if len(known) > most else ""
    return ", ".join(known[:most]) + more


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def _percentile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarise(series: Series) -> dict[str, object]:
    """The per-target summary row: last result plus ratio and latency percentiles."""
    res = series.results
    last = res[-1]
    durations = [r.duration_seconds for r in res]
    ok = sum(1 for r in res if r.success)
    reasons: dict[str, int] = {}
    for r in res:
        if not r.success:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
    return {
        "channel": series.target.channel, "target": series.target.name,
        "kind": series.target.kind, "probes": len(res), "succeeded": ok,
        "success_ratio": ok / len(res), "result": last.result_label, "reason": last.reason,
        "failure_reasons": reasons, "message": last.message, "status_code": last.status_code,
        "latency_p50_seconds": _percentile(durations, 50),
        "latency_p95_seconds": _percentile(durations, 95),
        "last_duration_seconds": last.duration_seconds, "phases": dict(last.phases),
        "attempts": sum(r.attempts for r in res),
        "cert_expiry_timestamp": last.cert_expiry_timestamp,
    }


def render_table(rows: Sequence[dict[str, object]], repeated: bool) -> str:
    """A fixed-width table a person can read at a glance."""
    head = ["CHANNEL", "TARGET", "RESULT", "REASON", "STATUS"]
    head += ["OK", "P50", "P95"] if repeated else ["LATENCY", *[p.upper() for p in PHASES]]
    lines = [head]
    for r in rows:
        phases = r["phases"] if isinstance(r["phases"], dict) else {}
        line = [str(r["channel"]), str(r["target"]), str(r["result"]),
                "" if r["reason"] == "ok" else str(r["reason"]),
                "-" if r["status_code"] is None else str(r["status_code"])]
        if repeated:
            line += [f"{r['succeeded']}/{r['probes']}",
                     _ms(r["latency_p50_seconds"]),  # type: ignore[arg-type]
                     _ms(r["latency_p95_seconds"])]  # type: ignore[arg-type]
        else:
            line += [_ms(r["last_duration_seconds"]),  # type: ignore[arg-type]
                     *[_ms(phases.get(p)) for p in PHASES]]
        lines.append(line)
    out = format_table(lines)
    failed = [r for r in rows if r["result"] == "failure" and r["message"]]
    out += [f"{r['target']}: {r['message']}" for r in failed]
    return "\n".join(out)


async def probe_all(targets: Sequence[Target], count: int, interval: float,
                    progress: bool) -> list[Series]:
    """Probe every target ``count`` times, targets concurrently, runs ``interval`` apart."""
    ctx = ProbeContext()
    series = [Series(t) for t in targets]
    total = len(targets) * count
    done = 0

    async def one(s: Series) -> None:
        nonlocal done
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            s.results.append(await run_target(s.target, ctx, PROBES[s.target.kind]))
            done += 1
            if progress:
                sys.stderr.write(f"\rprobing… {done}/{total}")
                sys.stderr.flush()

    await asyncio.gather(*(one(s) for s in series))
    if progress:
        sys.stderr.write("\r\033[K")
    return series


def run_probe(targets: Sequence[Target], args: argparse.Namespace) -> int:
    """Probe, print, and return the exit code (0 all succeeded, 1 any failed)."""
    progress = not args.json and sys.stderr.isatty() and args.count * len(targets) > 1
    series = asyncio.run(probe_all(targets, args.count, parse_duration(args.every), progress))
    rows = [summarise(s) for s in series]
    if args.json:
        print(json.dumps({"targets": rows}, indent=2, default=str))
    else:
        print(render_table(rows, repeated=args.count > 1))
    return 0 if all(r["succeeded"] == r["probes"] for r in rows) else 1


def cmd_probe(args: argparse.Namespace) -> int:
    """Probe the selected targets (or the URL); exit 0 all succeeded, 1 any failed, 2 usage."""
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
                        raise UsageError(f"unknown target {name!r} in {args.config} "
                                         f"(known: {_names(t.name for t in config.targets)})")
                chosen = [t for t in chosen if t.name in args.target]
            if not chosen:
                raise UsageError("no targets selected")
            targets = chosen
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_USAGE
    except (UsageError, ValueError) as exc:
        print(f"omniwatch probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_probe(targets, args)
