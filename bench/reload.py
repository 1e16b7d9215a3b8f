"""How much a burst of configuration reloads stalls probing in ``omniwatch run``.

Starts a loopback HTTP target (nginx when installed, else a small threaded server),
writes a config of ``--targets`` HTTP targets on ``--interval``, runs ``python -m monitor
run`` as a child process, lets every target be probed once, then sends ``--reloads``
SIGHUPs spread evenly over ``--seconds`` (each one after rewriting the file with one
target changed, so every reload has something to apply).  After the burst it waits one
interval and a few seconds more, then reports from the monitor's own ``/metrics``, over
the window from just before the burst to the end:

* probes started, and probes started more than 5 s after their slot
  (``omniwatch_scheduler_lateness_seconds``);
* runs skipped (``omniwatch_probes_skipped_busy_total``: a run missed or still going);
* reloads applied, where the checkout exports ``omniwatch_config_reloads_total``.

    .venv/bin/python bench/reload.py [--targets 2000] [--reloads 50] [--seconds 5]
                                     [--interval 10s] [--tree DIR]

``--tree DIR`` measures another checkout (``python -m monitor`` with ``DIR`` first on the
path), e.g. the commit before a change, for the "before" figure.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Nginx, cpu_seconds, free_port, health_server, stop_process, wait_http

ROOT = Path(__file__).resolve().parents[1]
LATENESS = "omniwatch_scheduler_lateness_seconds"


@contextmanager
def http_target(workdir: Path) -> Iterator[tuple[int, str]]:
    """A loopback HTTP target: nginx if installed, else a threaded Python server."""
    try:
        nginx = Nginx(workdir / "nginx").start()
    except (SystemExit, OSError, RuntimeError):
        with health_server() as port:
            yield port, "python http.server"
        return
    try:
        yield nginx.port, "nginx"
    finally:
        nginx.stop()


def write_config(path: Path, port: int, targets: int, interval: str, version: int) -> None:
    """``targets`` HTTP targets; target 0's URL carries ``version`` so each rewrite changes
    one target (the rest are unchanged, as in a typical edit)."""
    lines = ["store: {sqlite: bench-reload.db}", f"defaults: {{interval: {interval}, "
             "timeout: 2s}", "scheduler: {max_concurrency: 512}", "channels:", "  app:",
             "    targets:"]
    for i in range(targets):
        query = f"?v={version}" if i == 0 else ""
        lines.append(f'      - {{name: t{i:05d}, probe: http, '
                     f'url: "http://127.0.0.1:{port}/health/{i}{query}"}}')
    path.write_text("\n".join(lines) + "\n")


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, by name and labels (waits out a stalled loop)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=300) as r:
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _get(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
         **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _late(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return _get(samples, f"{LATENESS}_count") - _get(samples, f"{LATENESS}_bucket", le="5.0")


def seconds(text: str) -> float:
    """``10s``, ``2m`` or a bare number of seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * units[suffix]
    return float(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--reloads", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="spread the reloads over this many seconds (default 5)")
    parser.add_argument("--interval", default="10s", help="probe interval (default 10s)")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="measure the checkout in DIR instead of this one")
    args = parser.parse_args()
    interval = seconds(args.interval)
    tree = (args.tree or ROOT).resolve()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory(prefix="omniwatch-bench-reload-") as tmp, \
            http_target(Path(tmp)) as (target_port, target_kind):
        work = Path(tmp)
        cfg = work / "omniwatch.yaml"
        write_config(cfg, target_port, args.targets, args.interval, 0)
        port = free_port()
        log = (work / "run.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--listen",
             f"127.0.0.1:{port}", "--log-format", "json"],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
            time.sleep(interval + 2)  # every target probed once, the loop settled
            before = scrape(port)
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            for k in range(args.reloads):
                write_config(cfg, target_port, args.targets, args.interval, k + 1)
                proc.send_signal(signal.SIGHUP)
                if k + 1 < args.reloads:
                    time.sleep(args.seconds / max(1, args.reloads - 1))
            time.sleep(interval + 5)
            after = scrape(port)
            cpu, wall = cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
        finally:
            stop_process(proc, 60)
            log.close()
    started = _get(after, f"{LATENESS}_count") - _get(before, f"{LATENESS}_count")
    expected = args.targets * wall / interval
    skipped = (_get(after, "omniwatch_probes_skipped_busy_total")
               - _get(before, "omniwatch_probes_skipped_busy_total"))
    applied = (_get(after, "omniwatch_config_reloads_total", result="applied")
               - _get(before, "omniwatch_config_reloads_total", result="applied"))
    has_counter = any(k[0] == "omniwatch_config_reloads_total" for k in after)
    print(f"tree {tree} · {args.targets} targets every {args.interval} against {target_kind}"
          f" · {args.reloads} SIGHUPs over {args.seconds:g} s · window {wall:.1f} s\n")
    print("| probes expected | started | started > 5 s late | skipped | reloads applied "
          "| monitor CPU |")
    print("|---|---|---|---|---|---|")
    print(f"| {expected:,.0f} | {started:,.0f} | {_late(after) - _late(before):,.0f} | "
          f"{skipped:,.0f} | {f'{applied:,.0f}' if has_counter else 'n/a'} | {cpu:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
