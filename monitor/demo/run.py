"""``omniwatch demo``: the simulated backends on loopback and a monitor watching them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time

from aiohttp import web

from monitor.config import parse_config
from monitor.config.values import listen_url
from monitor.demo.backends import backends, serve_gateway
from monitor.runtime.monitor import Monitor
from monitor.server.app import start_server
from monitor.slo.bindings import evaluate_all, slo_bindings
from monitor.slo.table import render_rows, slo_rows
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
        statuses = evaluate_all(store, slo_bindings(config), time.time())
        store.close()
        print("\nSLOs over this run (history kept in " + db + "):\n"
              + render_rows(slo_rows(statuses)), flush=True)
        print("omniwatch demo: stopped", flush=True)
    return 0
