"""Serving ``/api/v1/status`` and the status page ``/`` of ``omniwatch run`` with many
targets, measured with wrk.

A monitor with ``--targets`` HTTP targets (default 10,000, over four channels, against a
loopback nginx) whose SQLite store already holds ``--history-hours`` of hourly results
per target (so the uptime bars, SLOs and incidents read real rows) is started; once
every target has a result, wrk sends ``--connections`` concurrent keep-alive requests for
``--duration`` seconds to each path, plain and gzipped.  Reported per path: p50 and p99 latency,
requests/s, the body size, and the monitor's CPU and peak RSS meanwhile.  The target is
p99 < 200 ms.  ``/`` is measured only when it answers 200 with text/html (the page may
not be there in an older checkout); otherwise the table says so.

    .venv/bin/python bench/status.py [--targets 10000] [--history-hours 48]
                                     [--interval 5m] [--connections 50] [--duration 30]
                                     [--tree DIR]

The probes keep running during the measurement (every ``--interval``; long by default
so the bench measures serving, not probing).  ``--tree DIR`` runs ``python -m monitor``
from another checkout.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Nginx, cpu_seconds, free_port, need, rss_bytes
from scrape import omniwatch

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
CHANNELS = ("app", "website", "miniprogram", "branch")
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def target_name(i: int) -> str:
    return f"t{i:05d}"


def channel_of(i: int) -> str:
    return CHANNELS[i % len(CHANNELS)]


def write_config(path: Path, targets: int, nginx_port: int, interval: str) -> None:
    lines = ["store: {sqlite: omniwatch.db, flush_interval: 10s}",
             f"defaults: {{interval: {interval}, timeout: 2s}}", "channels:"]
    for c in CHANNELS:
        lines += [f"  {c}:", "    targets:"]
        lines += [f'      - {{name: {target_name(i)}, probe: http, '
                  f'url: "http://127.0.0.1:{nginx_port}/h"}}'
                  for i in range(targets) if channel_of(i) == c]
    path.write_text("\n".join(lines) + "\n")


def fill_history(db: Path, targets: int, hours: int, now: float) -> None:
    """One result per target and hour for ``hours``; every 50th target failed once a
    day (so there are partial bars and incidents), written through the real store."""
    # Imported here, with the checkout first on sys.path: scrape.py puts bench/ first,
    # where bench/alerts.py would shadow the alerts package.
    sys.path.insert(0, str(ROOT))
    from monitor.store.sqlite import SqliteProbeStore
    from probes.result import ProbeResult

    store = SqliteProbeStore(str(db))
    try:
        for h in range(hours, 0, -1):
            t = now - h * 3600.0
            for i in range(targets):
                failed = i % 50 == 0 and h % 24 == 0
                result = ProbeResult(success=not failed, reason="timeout" if failed else "ok",
                                     duration_seconds=0.002, started_at=t)
                store.record(channel_of(i), target_name(i), result, False)
            store.flush()
    finally:
        store.close()


def fetch(url: str, encoding: str = "identity") -> tuple[int, str, bytes]:
    """One GET; the body as sent (gzipped when ``encoding`` is gzip and it was)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def wait_until_probed(port: int, timeout: float) -> None:
    """Until no target is pending in ``/api/v1/status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = fetch(f"http://127.0.0.1:{port}/api/v1/status")
        if status == 200 and all(t["state"] != "pending" for t in json.loads(body)["targets"]):
            return
        time.sleep(2)
    raise RuntimeError(f"not every target was probed within {timeout:g}s")


def latency_ms(text: str, label: str) -> float:
    """wrk's ``--latency`` distribution line for ``label`` (``50%``, ``99%``) in ms."""
    m = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if m is None:
        raise RuntimeError(f"no {label} latency in wrk's output:\n{text}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def run_wrk(url: str, connections: int, seconds: int, pid: int,
            headers: tuple[str, ...] = ()) -> dict[str, float]:
    """wrk against ``url``; latency percentiles, throughput, CPU and peak RSS of ``pid``."""
    peak = rss_bytes(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu = cpu_seconds(pid)
    sampler.start()
    try:
        out = subprocess.run(
            [need("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
             "--timeout", "10s", *(a for h in headers for a in ("-H", h)), url],
            capture_output=True, text=True, check=True).stdout
    finally:
        done.set()
        sampler.join()
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if errors is not None:
        raise RuntimeError(f"{url}: {errors.group(1)} error answers:\n{out}")
    return {"p50": latency_ms(out, "50%"), "p99": latency_ms(out, "99%"),
            "rps": float(rate.group(1)) if rate else 0.0,
            "cpu": (cpu_seconds(pid) - cpu) / seconds, "peak": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--history-hours", type=int, default=48)
    parser.add_argument("--interval", default="5m", help="probe interval of every target")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=30, help="seconds of wrk per path")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="run omniwatch from the checkout in DIR")
    args = parser.parse_args()
    need("wrk")

    print(f"omniwatch from {args.tree or ROOT}, {args.targets} http targets, "
          f"{args.history_hours} h of history, wrk -c{args.connections} -d{args.duration}s\n")
    with tempfile.TemporaryDirectory(prefix="omniwatch-status-") as tmp:
        work = Path(tmp)
        nginx = Nginx(work / "nginx").start()
        try:
            config = work / "omniwatch.yaml"
            write_config(config, args.targets, nginx.port, args.interval)
            started = time.perf_counter()
            fill_history(work / "omniwatch.db", args.targets, args.history_hours, time.time())
            print(f"history written in {time.perf_counter() - started:.1f} s", flush=True)
            port = free_port()
            with omniwatch(work, config, port, args.tree) as pid:
                wait_until_probed(port, timeout=900)
                print("| path | encoding | body | p50 | p99 | requests/s | CPU (cores) "
                      "| peak RSS |")
                print("|---|---|---|---|---|---|---|---|")
                # Plain, as curl and scripts ask; gzip, as every browser (and Grafana's
                # JSON data sources) ask.
                for path, encoding in (("/api/v1/status", "identity"), ("/", "identity"),
                                       ("/api/v1/status", "gzip"), ("/", "gzip")):
                    url = f"http://127.0.0.1:{port}{path}"
                    status, ctype, body = fetch(url, encoding)
                    if status != 200 or not ctype.startswith(
                            "application/json" if path != "/" else "text/html"):
                        print(f"| {path} | {encoding} | not measured: answered {status} "
                              f"{ctype} | | | | | |")
                        continue
                    r = run_wrk(url, args.connections, args.duration, pid,
                                (f"Accept-Encoding: {encoding}",))
                    print(f"| {path} | {encoding} | {len(body) / MB:.2f} MB "
                          f"| {r['p50']:.1f} ms "
                          f"| {r['p99']:.1f} ms | {r['rps']:.0f} | {r['cpu']:.2f} "
                          f"| {r['peak'] / MB:.0f} MB |", flush=True)
        finally:
            nginx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
