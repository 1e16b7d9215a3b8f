"""Memory of ``omniwatch run`` under concurrent ``/metrics`` scrapes.

A monitor with ``--targets`` HTTP targets (default 2,000, against a loopback nginx, so
every target has a full set of series) is probed until each target has a result; then,
for each level in ``--concurrency`` (default 100 and 300), that many scrapes are sent at
once (a thread each, all released together, each reading its whole body).  Reported per
level: RSS before, the peak RSS while the scrapes ran (sampled every 5 ms from /proc),
RSS ``--settle`` seconds after, the body size and how many distinct bodies were served.

    .venv/bin/python bench/scrape.py [--targets 2000] [--concurrency 100,300]
                                     [--encoding plain|gzip|both] [--tree DIR]

``--encoding gzip`` sends ``Accept-Encoding: gzip`` as Prometheus does (``both``, the
default, measures each).  ``--tree DIR`` runs ``python -m monitor`` from another checkout
(``DIR`` first on ``PYTHONPATH``), e.g. the commit before a change; the config written
uses only keys every version accepts.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Nginx, free_port, rss_bytes, stop_process, wait_http

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def write_config(path: Path, targets: int, nginx_port: int) -> None:
    lines = [
        "store: {sqlite: omniwatch.db}",
        "defaults: {interval: 10s, timeout: 2s}",
        "channels:",
        "  app:",
        "    targets:",
    ]
    lines += [f'      - {{name: t{i:05d}, probe: http, url: "http://127.0.0.1:{nginx_port}/h"}}'
              for i in range(targets)]
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def omniwatch(workdir: Path, config: Path, port: int, tree: Path | None) -> Iterator[int]:
    """``python -m monitor run`` in ``workdir``; yields its pid."""
    env = {**os.environ}
    if tree is not None:
        env["PYTHONPATH"] = str(tree.resolve())
    log = (workdir / "omniwatch.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "-c", str(config),
         "--listen", f"127.0.0.1:{port}", "--log-format", "json"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        yield proc.pid
    finally:
        stop_process(proc, 30)
        log.close()


def scrape(port: int, use_gzip: bool) -> bytes:
    """One whole ``/metrics`` body, decompressed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"} if use_gzip else {})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/metrics answered {resp.status}")
        if resp.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return body
    finally:
        conn.close()


def wait_until_probed(port: int, targets: int, timeout: float) -> None:
    """Until every target has a last result (its probe_success series exists)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scrape(port, False).count(b"\nomniwatch_probe_success{") >= targets:
            return
        time.sleep(1)
    raise RuntimeError(f"not every target was probed within {timeout:g}s")


def burst(pid: int, port: int, clients: int, use_gzip: bool) -> dict[str, float]:
    """``clients`` simultaneous scrapes; RSS before, peak during, and the bodies seen."""
    bodies: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        start.wait()
        try:
            body = scrape(port, use_gzip)
        except BaseException as exc:  # reported below; one failed scrape fails the run
            with lock:
                errors.append(exc)
            return
        with lock:
            bodies.append(body)

    before = rss_bytes(pid)
    peak = before
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    start.wait()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients} scrapes failed: {errors[0]!r}")
    sizes = sorted(len(b) for b in bodies)
    return {"before": before, "peak": peak, "seconds": elapsed,
            "body": sizes[len(sizes) // 2], "distinct": len(set(bodies))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--concurrency", default="100,300",
                        help="comma-separated numbers of simultaneous scrapes")
    parser.add_argument("--encoding", choices=("plain", "gzip", "both"), default="both")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to wait after a burst before reading RSS again")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="run omniwatch from the checkout in DIR")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",") if n]
    encodings = {"plain": [False], "gzip": [True], "both": [False, True]}[args.encoding]

    print(f"omniwatch from {args.tree or ROOT}, {args.targets} http targets\n")
    print("| encoding | scrapes | RSS before | peak RSS | RSS after | body | distinct bodies "
          "| burst |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="omniwatch-scrape-") as tmp:
        work = Path(tmp)
        nginx = Nginx(work / "nginx").start()
        try:
            config = work / "omniwatch.yaml"
            write_config(config, args.targets, nginx.port)
            port = free_port()
            with omniwatch(work, config, port, args.tree) as pid:
                wait_until_probed(port, args.targets, timeout=120)
                for use_gzip in encodings:
                    for clients in levels:
                        r = burst(pid, port, clients, use_gzip)
                        time.sleep(args.settle)
                        after = rss_bytes(pid)
                        print(f"| {'gzip' if use_gzip else 'plain'} | {clients} "
                              f"| {r['before'] / MB:.0f} MB | {r['peak'] / MB:.0f} MB "
                              f"| {after / MB:.0f} MB | {r['body'] / MB:.2f} MB "
                              f"| {r['distinct']:.0f} | {r['seconds']:.2f} s |", flush=True)
        finally:
            nginx.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
