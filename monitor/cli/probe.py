"""``omniwatch probe``: probe a channel, a target or an ad-hoc URL by hand, now.

Built for on-call at 3 a.m.: a readable table on a terminal, ``--json`` for scripts,
progress only when a person is watching, and exit 0 only when every probe succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.cli.common import EXIT_USAGE, UsageError, duration_arg, print_config_error
from monitor.cli.probe_steps import percentile, step_rows, summarise_steps
from monitor.cli.probe_url import adhoc_target
from monitor.config import ConfigError, load_config
from monitor.config.model import BrowserConfig, Target
from monitor.flows import measurement_text
from monitor.tables import format_table
from probes import PROBES, ProbeFn
from probes._browser_pool import BrowserPool, BrowserUnavailable
from probes.context import ProbeContext
from probes.result import PHASES, NotRun, ProbeResult
from probes.runner import run_target
from probes.tls import with_min_valid


@dataclass(slots=True)
class Series:
    """All results of one target in this invocation."""

    target: Target
    results: list[ProbeResult] = field(default_factory=list)
    # Runs that could not happen (omniwatch's own capacity, not the target): the last's
    # message, and how many.
    not_run: str = ""
    not_run_count: int = 0


def _names(names: Iterable[str], most: int = 20) -> str:
    """Sorted ``names`` for a message, at most ``most`` of them."""
    known = sorted(names)
    if not known:
        return "none"
    more = f", … and {len(known) - most} more" if len(known) > most else ""
    return ", ".join(known[:most]) + more


def cert_expiry_text(not_after: float, now: float) -> str:
    """``expires in 3.0 days`` (or ``expired 2.0 days ago``) for a ``notAfter`` at ``now``."""
    days = (not_after - now) / 86400.0
    return f"expires in {days:.1f} days" if days > 0 else f"expired {-days:.1f} days ago"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def summarise(series: Series) -> dict[str, object]:
    """The per-target summary row: last result plus ratio and latency percentiles.

    A journey or browser target's row also has ``steps`` (see
    :func:`~monitor.cli.probe_steps.summarise_steps`) and ``measurements``.
    """
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
        "latency_p50_seconds": percentile(durations, 50),
        "latency_p95_seconds": percentile(durations, 95),
        "last_duration_seconds": last.duration_seconds, "phases": dict(last.phases),
        "attempts": sum(r.attempts for r in res),
        "cert_expiry_timestamp": last.cert_expiry_timestamp,
        **_cert_fields(last),
        "details": dict(last.details),
        **({"steps": summarise_steps(series.target, res),
            "measurements": dict(last.measurements)}
           if series.target.is_flow or last.steps else {}),
    }


def _cert_fields(result: ProbeResult) -> dict[str, object]:
    """When the certificate expires, in words and ISO 8601, as of the probe."""
    not_after = result.cert_expiry_timestamp
    if not_after is None:
        return {}
    now = result.started_at or time.time()
    return {"cert_not_after": dt.datetime.fromtimestamp(not_after, dt.UTC).isoformat(),
            "cert_expiry": cert_expiry_text(not_after, now),
            "cert_days_left": round((not_after - now) / 86400.0, 3)}


def render_table(rows: Sequence[dict[str, object]], repeated: bool) -> str:
    """A fixed-width table a person can read at a glance."""
    head = ["CHANNEL", "TARGET", "RESULT", "REASON", "STATUS"]
    head += ["OK", "P50", "P95"] if repeated else ["LATENCY", *[p.upper() for p in PHASES]]
    lines = [head]
    messages: dict[int, str] = {}  # table line -> a step's message, written after its row
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
        steps = r.get("steps")
        for cells, message in step_rows(steps if isinstance(steps, list) else [], repeated,
                                        len(head)):
            if message:
                messages[len(lines)] = message
            lines.append(cells)
    out = format_table(lines)
    if messages:
        # Past the columns a step row fills: LATENCY, or P95 with --count.
        filled = len(head) if repeated else 6
        at = sum(max(len(row[i]) for row in lines) + 2 for i in range(filled))
        for i, message in messages.items():
            out[i] = out[i].ljust(at) + message
    out += [f"{r['target']}: certificate {r['cert_expiry']} ({r['cert_not_after']})"
            for r in rows if "cert_expiry" in r]
    for r in rows:
        details = r["details"] if isinstance(r["details"], dict) else {}
        if r["kind"] == "dns" and "rcode" in details:
            out.append(f"{r['target']}: {details['rcode']}, {details['answer_count']} answers"
                       + (f": {details['answers']}" if details.get("answers") else ""))
        if details.get("screenshot"):
            out.append(f"{r['target']}: screenshot {details['screenshot']}")
        measurements = r.get("measurements")
        if isinstance(measurements, dict) and measurements:
            out.append(f"{r['target']}: {measurement_text(measurements)}")
    failed = [r for r in rows if r["result"] == "failure" and r["message"]]
    out += [f"{r['target']}: {r['message']}" for r in failed]
    return "\n".join(out)


async def probe_all(targets: Sequence[Target], count: int, interval: float,
                    progress: bool, min_valid: float | None = None,
                    browser: BrowserConfig | None = None) -> tuple[list[Series], bool]:
    """Probe every target ``count`` times, targets concurrently, runs ``interval`` apart.

    Ctrl-C (SIGINT) stops early, as ``ping`` does: the probes done so far are returned,
    with True for "interrupted".  With ``min_valid`` (seconds), a success whose
    certificate expires sooner fails as ``tls``, as a ``tls`` target's ``min_valid`` does.
    ``browser`` is the configuration's browser section, for ``browser`` targets.
    """
    ctx = ProbeContext(browsers=BrowserPool(browser))

    def probe_fn(kind: str) -> ProbeFn:
        fn = PROBES[kind]
        return fn if min_valid is None else with_min_valid(fn, min_valid)
    series = [Series(t) for t in targets]
    total = len(targets) * count
    done = 0

    async def one(s: Series) -> None:
        nonlocal done
        for i in range(count):
            if i:
                await asyncio.sleep(interval)
            try:
                s.results.append(await run_target(s.target, ctx, probe_fn(s.target.kind)))
            except NotRun as exc:
                s.not_run, s.not_run_count = exc.message, s.not_run_count + 1
            done += 1
            if progress:
                sys.stderr.write(f"\rprobing… {done}/{total}")
                sys.stderr.flush()

    if any(t.kind == "browser" for t in targets):
        # The launch takes seconds: not from the first check's timeout.  A browser that
        # cannot start is reported by each browser check.
        with contextlib.suppress(BrowserUnavailable):
            await ctx.browsers.start()
    loop = asyncio.get_running_loop()
    work = asyncio.gather(*(one(s) for s in series))
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        work.cancel()

    loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        await work
    except asyncio.CancelledError:
        if not interrupted:
            raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await ctx.browsers.aclose()  # a browser check's Chromium must not outlive us
    if progress:
        sys.stderr.write("\r\033[K")
    return series, interrupted


def run_probe(targets: Sequence[Target], args: argparse.Namespace, every: float,
              min_valid: float | None = None, browser: BrowserConfig | None = None) -> int:
    """Probe, print, and return the exit code (0 all succeeded, 1 any failed or did not
    run, 130 when interrupted by Ctrl-C: the summary then covers the probes done)."""
    progress = not args.json and sys.stderr.isatty() and args.count * len(targets) > 1
    series, interrupted = asyncio.run(probe_all(targets, args.count, every, progress,
                                                min_valid, browser))
    rows = [summarise(s) for s in series if s.results]
    not_run = [s for s in series if s.not_run_count]
    if args.json:
        skipped = [{"channel": s.target.channel, "target": s.target.name,
                    "kind": s.target.kind, "not_run": s.not_run_count, "message": s.not_run}
                   for s in not_run]
        print(json.dumps({"targets": rows, **({"not_run": skipped} if skipped else {}),
                          **({"interrupted": True} if interrupted else {})},
                         indent=2, default=str))
    else:
        if rows:
            print(render_table(rows, repeated=args.count > 1))
        for s in not_run:
            times = f" ({s.not_run_count} of {args.count})" if args.count > 1 else ""
            print(f"{s.target.name}: not run{times}: {s.not_run}")
    if interrupted:
        done = sum(len(s.results) for s in series)
        print(f"omniwatch probe: interrupted after {done} of {args.count * len(targets)} "
              "probes", file=sys.stderr)
        return 130
    # A check that did not run did not prove its target up.
    return 0 if not not_run and all(r["succeeded"] == r["probes"] for r in rows) else 1


# The ad-hoc options and their defaults: given with -c, they would be silently ignored.
ADHOC_FLAGS = {"timeout": "5s", "method": None, "header": None, "body": None,
               "expect_status": None, "expect_body": None, "expect_json": None,
               "latency": None, "send": None, "no_follow": False, "insecure": False,
               "ca_file": None, "confirm": 0, "min_valid": None}


def cmd_probe(args: argparse.Namespace) -> int:
    """Probe the selected targets (or the URL); exit 0 all succeeded, 1 any failed, 2 usage."""
    if args.count < 1:
        raise UsageError(f"--count must be at least 1 (not {args.count})")
    every = duration_arg("--every", args.every, zero_ok=True)
    min_valid = None if args.min_valid is None else duration_arg("--min-valid", args.min_valid)
    targets: list[Target] = []
    browser: BrowserConfig | None = None
    try:
        if args.url:
            if args.channel or args.target:
                raise UsageError("give either a URL or --channel/--target, not both")
            targets.append(adhoc_target(args.url, args))
        else:
            if not args.config:
                raise UsageError("give a URL, or -c FILE with --channel/--target")
            given = [f"--{k.replace('_', '-')}" for k, v in ADHOC_FLAGS.items()
                     if getattr(args, k) != v]
            if given:
                raise UsageError(f"{', '.join(given)}: only for an ad-hoc URL; configured "
                                 "targets are probed as the config says")
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
            browser = config.browser
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_USAGE
    return run_probe(targets, args, every, min_valid, browser)
