"""``omniwatch demo``: the simulated backends on loopback and a monitor watching them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence

from aiohttp import web

from monitor.config import format_duration, parse_config
from monitor.config.values import listen_url
from monitor.demo.backends import backends, serve_gateway
from monitor.metrics.state import ProbeState
from monitor.runtime.monitor import Monitor
from monitor.server.app import start_server
from monitor.slo.bindings import SloBinding, slo_bindings
from monitor.slo.budget import Counts, burn_rate
from monitor.slo.table import render_rows
from monitor.store import open_store

log = logging.getLogger("omniwatch.demo")

DEMO_CONFIG = """\
store: {{sqlite: "{db}"}}
defaults: {{interval: 5s, timeout: 2s}}
slo: {{objective: 99.9%, latency_objective: 95%}}
channels:
  app:
    targets:
      - {{name: app-api, probe: http, url: "http://127.0.0.1:{app}/health",
         expect: {{status: [200], json: {{status: UP}}, latency: 500ms}}}}
  website:
    targets:
      - {{name: website-home, probe: http, url: "http://127.0.0.1:{web}/",
         expect: {{status: [200], body_regex: "Welcome", latency: 500ms}}}}
  miniprogram:
    targets:
      - {{name: mini-api, probe: http, url: "http://127.0.0.1:{mini}/api/ping",
         expect: {{status: [200], latency: 400ms}}}}
  branch:
    targets:
      - {{name: branch-core, probe: http, url: "http://127.0.0.1:{branch}/health",
         confirm: 1, expect: {{status: [200]}}}}
      - {{name: branch-gateway, probe: tcp, host: 127.0.0.1, port: {gateway},
         send: "PING\\r\\n", expect: {{regex: PONG}}}}
"""


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


def _summary(monitor: Monitor) -> str:
    parts = []
    for st in monitor.state.targets.values():
        if st.last is None:
            parts.append(f"{st.target}=pending")
            continue
        label = st.last.result_label
        parts.append(f"{st.target}={label}" + ("" if st.last.success else f"({st.last.reason})"))
    return " ".join(parts)


async def run_demo(host: str, port: int, duration: float | None, db: str) -> int:
    """Start the backends and a monitor; stop everything on Ctrl-C or after ``duration``."""
    runners: list[web.AppRunner] = []
    ports: dict[str, int] = {}
    for name, app in backends().items():
        r = web.AppRunner(app, access_log=None, handle_signals=False)
        await r.setup()
        site = web.TCPSite(r, "127.0.0.1", 0)
        await site.start()
        ports[name] = r.addresses[0][1]
        runners.append(r)
    gateway = await asyncio.start_server(serve_gateway, "127.0.0.1", 0)
    ports["gateway"] = gateway.sockets[0].getsockname()[1]

    config = parse_config(DEMO_CONFIG.format(db=db, **ports), file="<demo>")
    started = time.monotonic()
    store = open_store(config.store)
    monitor = Monitor(config, store=store)
    try:
        server, bound = await start_server(monitor, host, port)
    except OSError as exc:
        print(f"omniwatch demo: cannot listen on {listen_url(host, port, '')}: {exc.strerror}; "
              "try --listen 127.0.0.1:0", file=sys.stderr)
        for r in runners:
            await r.cleanup()
        gateway.close()
        store.close()
        return 2
    monitor.start()
    print(f"omniwatch demo: watching 4 channels ({len(config.targets)} targets) on loopback\n"
          f"  metrics:  {listen_url(host, bound, '/metrics')}\n"
          f"  status:   {listen_url(host, bound, '/')}\n"
          f"  one-shot: {listen_url(host, bound, '/probe?target=app-api')}\n"
          "Ctrl-C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    deadline = None if duration is None else loop.time() + duration
    try:
        while not stop.is_set():
            wait = 10.0 if deadline is None else min(10.0, deadline - loop.time())
            if wait <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            print(time.strftime("%H:%M:%S ") + _summary(monitor), flush=True)
    finally:
        await monitor.stop()
        await server.cleanup()
        for r in runners:
            await r.cleanup()
        gateway.close()
        await gateway.wait_closed()
        store.close()
        bindings = slo_bindings(config)
        ran = format_duration(round(time.monotonic() - started))
        print(f"\nSLOs over this run ({ran}; the history of every run is kept in {db}):\n"
              + render_rows(run_rows(bindings, run_counts(monitor.state, bindings))),
              flush=True)
        print("omniwatch demo: stopped", flush=True)
    return 0
