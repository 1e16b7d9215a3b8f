"""Probe throughput and scheduler punctuality, omniwatch vs blackbox_exporter.

Two measurements, each against a local nginx with a new connection per probe:

1. **Probes per CPU-second.** blackbox_exporter (Debian's package) is driven by ``wrk``
   at its ``/probe`` endpoint, as Prometheus would drive it, cycling over N target URLs;
   omniwatch runs the same N targets on a short interval with ``omniwatch run``.  Only the
   prober process's own CPU time is counted on each side (not nginx, not wrk).
2. **10,000 targets at 30 s** (``--scale``): p99 lateness of probe starts (from
   ``omniwatch_scheduler_lateness_seconds``), RSS, and the time to render ``/metrics``.

Run: ``.venv/bin/python bench/probe_throughput.py [--targets 1000] [--seconds 20] [--scale]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Nginx, cpu_seconds, free_port, need, rss_bytes, wait_http


def scrape(port: int) -> tuple[float, dict[str, list[tuple[dict[str, str], float]]]]:
    """Fetch /metrics; return (seconds taken, samples by name)."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    took = time.perf_counter() - t0
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return took, out


def total(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(v for _, v in samples.get(name, []))


def start_omniwatch(workdir: Path, urls: list[str], interval: str, timeout: str,
                    concurrency: int = 1024) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    lines = [f"store: {{sqlite: {workdir}/bench.db}}",
             f"scheduler: {{max_concurrency: {concurrency}}}",
             f"defaults: {{interval: {interval}, timeout: {timeout}}}",
             "channels:", "  app:", "    targets:"]
    lines += [f"      - {{name: t{i}, probe: http, url: '{u}'}}" for i, u in enumerate(urls)]
    cfg = workdir / "omniwatch.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--listen",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "omniwatch.log", "w"))  # noqa: SIM115
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
    return proc, port


def bench_omniwatch(workdir: Path, urls: list[str], seconds: float) -> dict[str, float]:
    proc, port = start_omniwatch(workdir, urls, "1s", "1s")
    try:
        time.sleep(3)  # let every target take its phase
        _, s0 = scrape(port)
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        _, s1 = scrape(port)
        probes = total(s1, "omniwatch_probe_attempts_total") - total(
            s0, "omniwatch_probe_attempts_total")
        failures = sum(v for lbl, v in s1.get("omniwatch_probes_total", [])
                       if lbl["result"] == "failure")
        # The two scrapes themselves cost CPU; they are included, to be conservative.
        return {"probes": probes, "cpu_seconds": c1 - c0, "wall_seconds": t1 - t0,
                "probes_per_cpu_second": probes / (c1 - c0), "failures": failures}
    finally:
        proc.terminate()
        proc.wait(30)


def bench_blackbox(workdir: Path, urls: list[str], seconds: float) -> dict[str, float]:
    port = free_port()
    cfg = workdir / "blackbox.yml"
    cfg.write_text("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
                   "    http: {preferred_ip_protocol: ip4}\n")
    proc = subprocess.Popen(
        [need("prometheus-blackbox-exporter"), f"--config.file={cfg}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics")
        script = workdir / "probe.lua"
        targets = ", ".join(json.dumps(u) for u in urls)
        script.write_text(
            f"local targets = {{{targets}}}\nlocal i = 0\n"
            "request = function()\n  i = i % #targets + 1\n"
            "  return wrk.format('GET', '/probe?module=http_2xx&target=' .. targets[i])\nend\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format('REQUESTS %d\\n', summary.requests))\nend\n")
        c0 = cpu_seconds(proc.pid)
        out = subprocess.run(
            [need("wrk"), "-t1", "-c32", f"-d{int(seconds)}s", "-s", str(script),
             f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True)
        c1 = cpu_seconds(proc.pid)
        probes = next(int(line.split()[1]) for line in out.stdout.splitlines()
                      if line.startswith("REQUESTS"))
        non2xx = 0
        for line in out.stdout.splitlines():
            if "Non-2xx" in line:
                non2xx = int(line.split()[-1])
        return {"probes": probes, "cpu_seconds": c1 - c0, "wall_seconds": seconds,
                "probes_per_cpu_second": probes / (c1 - c0), "failures": non2xx}
    finally:
        proc.terminate()
        proc.wait(10)


def bench_scale(workdir: Path, nginx_port: int, n: int, seconds: float) -> dict[str, float]:
    urls = [f"http://127.0.0.1:{nginx_port}/health?t={i}" for i in range(n)]
    proc, port = start_omniwatch(workdir, urls, "30s", "5s", concurrency=512)
    try:
        time.sleep(35)  # one full interval: every target has a phase and a first result
        _, s0 = scrape(port)
        w0 = time.monotonic()
        time.sleep(seconds)
        renders = []
        samples = s0
        for _ in range(5):
            took, samples = scrape(port)
            renders.append(took)
            time.sleep(1)
        name = "omniwatch_scheduler_lateness_seconds_bucket"
        buckets = sorted((float(lbl["le"]), v) for lbl, v in samples[name])
        before = {float(lbl["le"]): v for lbl, v in s0[name]}
        window = [(le, v - before.get(le, 0.0)) for le, v in buckets]
        count = window[-1][1]
        p99_bound = next(le for le, v in window if v >= 0.99 * count)
        within_100ms = next(v for le, v in window if le == 0.1) / count
        return {"targets": n, "window_seconds": time.monotonic() - w0,
                "expected_probes_in_window": n / 30.0 * (time.monotonic() - w0),
                "probes_in_window": count, "p99_lateness_le_seconds": p99_bound,
                "share_started_within_100ms": within_100ms, "rss_mb": rss_bytes(proc.pid) / 2**20,
                "metrics_render_seconds_median": statistics.median(renders),
                "metrics_render_seconds_max": max(renders)}
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=1000, help="targets for the throughput run")
    ap.add_argument("--seconds", type=float, default=20, help="measured window per side")
    ap.add_argument("--scale", action="store_true", help="also run 10,000 targets at 30 s")
    ap.add_argument("--scale-targets", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="owbench-") as tmp:
        work = Path(tmp)
        nginx = Nginx(work / "nginx").start()
        try:
            urls = [f"http://127.0.0.1:{nginx.port}/health?t={i}" for i in range(args.targets)]
            bb = bench_blackbox(work, urls, args.seconds)
            ow = bench_omniwatch(work, urls, args.seconds)
            result: dict[str, object] = {
                "blackbox_exporter": bb, "omniwatch": ow,
                "ratio_probes_per_cpu_second":
                    ow["probes_per_cpu_second"] / bb["probes_per_cpu_second"]}
            print(json.dumps(result, indent=2), flush=True)
            if args.scale:
                result["scale"] = bench_scale(work, nginx.port, args.scale_targets, 60)
                print(json.dumps(result["scale"], indent=2))
        finally:
            nginx.stop()


if __name__ == "__main__":
    main()
