"""``omniwatch demo``: simulated channels, their customer stores and a local Slack on
loopback, and a real monitor watching them, until Ctrl-C or ``--duration``."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.config import format_duration
from monitor.config.values import listen_url
from monitor.demo.backends import Backends, Behaviour, SyntheticAccount, start_backends
from monitor.demo.config import DemoPlan, branch_hours, demo_config
from monitor.demo.slack_sink import SlackSink
from monitor.demo.stores import seed_stores
from monitor.demo.terminal import Narrator, status_block
from monitor.metrics.state import ProbeState
from monitor.runtime.monitor import Monitor
from monitor.server.app import start_server
from monitor.slo.bindings import SloBinding, evaluate_all, exclusions, slo_bindings
from monitor.slo.budget import Counts, burn_rate
from monitor.slo.table import render_rows
from monitor.store import StoreUnavailable, open_store

TICK_SECONDS = 0.5  # how often the state is looked at for events
STATUS_EVERY_SECONDS = 15.0  # the status block, on a terminal


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The command line: where to listen, for how long, where history goes."""

    host: str
    port: int
    duration: float | None = None
    db: Path | None = None  # history kept there; None: in the temporary folder
    keep: bool = False  # keep the temporary folder (stores, history) at the end
    alertmanager: str | None = None  # also send every alert to this Alertmanager


def run_counts(state: ProbeState, bindings: Sequence[SloBinding]) -> dict[str, Counts]:
    """Counted probes of this process per SLO name: the run, and nothing stored before it.

    The history file may hold earlier demo runs; the in-memory state holds only this
    one, exactly (a store window would start on a minute boundary that an earlier run
    may share).
    """
    per_target: dict[str, Counts] = {}
    for st in state.targets.values():
        good = sum(n for (label, _), n in st.results.items() if label != "failure")
        degraded = sum(n for (label, _), n in st.results.items() if label == "degraded")
        per_target[st.target] = Counts(good, sum(st.results.values()), degraded)
    channel_of = {st.target: st.channel for st in state.targets.values()}
    out: dict[str, Counts] = {}
    for b in bindings:
        scopes = [t for t, c in channel_of.items() if c == b.scope] if b.kind == "channel" \
            else [b.scope]
        out[b.spec.name] = sum((per_target.get(t, Counts()) for t in scopes), Counts())
    return out


def run_rows(bindings: Sequence[SloBinding], counts: dict[str, Counts]) -> list[list[str]]:
    """The closing table: per objective, this run's probes, SLI, burn rate and verdict."""
    rows = [["SLO", "OBJECTIVE", "PROBES", "SLI", "BURN", "STATUS"]]
    for b in bindings:
        c = counts.get(b.spec.name, Counts())
        parts = [(b.spec.name, b.spec.objective, c.bad)]
        if b.spec.latency_objective is not None:
            parts.append((f"{b.spec.name}-latency", b.spec.latency_objective,
                          c.total - c.fast))
        for name, objective, bad in parts:
            if c.total == 0:
                rows.append([name, f"{objective * 100:.3f}%", "0", "n/a", "n/a", "NO DATA"])
                continue
            sli = (c.total - bad) / c.total
            rate = burn_rate(bad, c.total, objective)
            rows.append([name, f"{objective * 100:.3f}%", str(c.total), f"{sli * 100:.3f}%",
                         "n/a" if rate is None else f"{rate:.2f}x",
                         "MET" if sli >= objective else "MISSED"])
    return rows


def _banner(plan: DemoPlan, options: DemoOptions, bound: int, sink: SlackSink,
            folder: Path) -> str:
    def url(path: str) -> str:
        return listen_url(options.host, bound, path)

    b, hours = plan.behaviour, branch_hours(plan.started_at)
    patch_from = b.gateway_patch_from_seconds
    return "\n".join([
        "omniwatch demo: four simulated channels, their customer stores and a local Slack, "
        "all on loopback",
        "  app          app-api (healthy) and app-login-balance (journey: log in, read a "
        "balance)",
        f"  website      website-home (flaky: 1 answer in {b.flaky_every} is a 502)",
        f"  miniprogram  mini-api (slow: 1 answer in {b.slow_every} takes "
        f"{b.slow_seconds * 1000:.0f} ms, objective 400 ms)",
        f"  branch       branch-core (outage {b.outage_from_seconds:.0f}s-"
        f"{b.outage_from_seconds + b.outage_seconds:.0f}s in), branch-teller, "
        f"branch-gateway (maintenance {patch_from:.0f}s-"
        f"{patch_from + b.gateway_patch_seconds:.0f}s in)",
        f"               open {hours.text}: closed after that, its probes not counted",
        f"  consistency  customers and accounts in 4 SQLite stores, against branch, every "
        f"15s ({folder})",
        f"  slack        {sink.api_url} (#channel-reliability, branch to #branch-oncall)",
        "Where to look:",
        f"  status page  {url('/')}",
        f"  metrics      {url('/metrics')}",
        f"  API          {url('/api/v1/status')}",
        f"  history      {plan.db}" + ("" if options.db or options.keep
                                      else " (removed at the end; --db FILE keeps it)"),
        "Ctrl-C to stop." if options.duration is None
        else f"Stops after {format_duration(options.duration)} (Ctrl-C sooner).",
    ])


async def _watch(monitor: Monitor, narrator: Narrator, stop: asyncio.Event,
                 deadline: float | None, started: float) -> None:
    """Print events until ``stop`` or the deadline; the status block on a terminal."""
    loop = asyncio.get_running_loop()
    excl = exclusions(monitor.config)
    bindings = slo_bindings(monitor.config)
    channels = [c.name for c in monitor.config.channels]
    tty = sys.stdout.isatty()
    next_status = loop.time() + STATUS_EVERY_SECONDS
    while not stop.is_set():
        wait = TICK_SECONDS if deadline is None else min(TICK_SECONDS, deadline - loop.time())
        if wait <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        narrator.probes(monitor.state, excl)
        narrator.consistency(monitor.consistency)
        if tty and monitor.store is not None and loop.time() >= next_status:
            next_status = loop.time() + STATUS_EVERY_SECONDS
            now = time.time()
            statuses = await asyncio.to_thread(evaluate_all, monitor.store, bindings, now)
            print(status_block(now, time.monotonic() - started, monitor.state, statuses,
                               excl, channels), flush=True)


async def run_demo(options: DemoOptions) -> int:
    """Start everything, watch until Ctrl-C or ``duration``, stop everything; 0 on a
    clean stop, 2 when the address is taken or the history cannot be opened."""
    folder = Path(tempfile.mkdtemp(prefix="omniwatch-demo-"))
    try:
        return await _run(options, folder)
    finally:
        if not options.keep:
            shutil.rmtree(folder, ignore_errors=True)


async def _run(options: DemoOptions, folder: Path) -> int:
    narrator = Narrator()
    sink = SlackSink(narrator.slack)
    await sink.start()
    backends: Backends | None = None
    behaviour, account = Behaviour(), SyntheticAccount()
    try:
        backends = await start_backends(behaviour, account)
        plan = DemoPlan(ports=backends.ports, stores=seed_stores(folder),
                        db=options.db or folder / "history.db", slack_api_url=sink.api_url,
                        started_at=backends.started_at, behaviour=behaviour,
                        account=account, alertmanager=options.alertmanager)
        return await _monitor(options, plan, folder, narrator, sink)
    finally:
        if backends is not None:
            await backends.close()
        await sink.close()


async def _monitor(options: DemoOptions, plan: DemoPlan, folder: Path, narrator: Narrator,
                   sink: SlackSink) -> int:
    config = demo_config(plan, sink.token)
    try:
        store = open_store(config.store)
    except StoreUnavailable as exc:  # --db naming a file that is no SQLite history
        flag = "--db: " if options.db is not None else ""
        print(f"omniwatch demo: {flag}{exc}", file=sys.stderr)
        return 2
    monitor = Monitor(config, store=store)
    try:
        server, bound = await start_server(monitor, options.host, options.port)
    except OSError as exc:
        print(f"omniwatch demo: cannot listen on "
              f"{listen_url(options.host, options.port, '')}: {exc.strerror}; "
              "try --listen 127.0.0.1:0", file=sys.stderr)
        store.close()
        return 2
    started = time.monotonic()
    monitor.start()
    print(_banner(plan, options, bound, sink, folder), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    deadline = None if options.duration is None else loop.time() + options.duration
    try:
        await _watch(monitor, narrator, stop, deadline, started)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await monitor.stop()
        await server.cleanup()
        store.close()
    bindings = slo_bindings(config)
    ran = format_duration(round(time.monotonic() - started))
    kept = f"; the history of every run is kept in {plan.db}" if options.db else ""
    print(f"\nSLOs over this run ({ran}{kept}):\n"
          + render_rows(run_rows(bindings, run_counts(monitor.state, bindings))), flush=True)
    if options.keep:
        print(f"omniwatch demo: kept {folder} (stores, history)", flush=True)
    print("omniwatch demo: stopped", flush=True)
    return 0
