"""Journeys: API journeys per CPU-second against single probes, and browser checks.

Two measurements, each with ``omniwatch run`` as a real process against a local nginx
(which answers in C, so only omniwatch's own CPU is counted):

1. **A 4-step API journey vs one http probe.**  N targets of each kind, in two runs of the
   same length: login (POST JSON, extract a token), balance (Bearer token, JSON Schema),
   transfer (POST, extract its id), and a ``finally`` cancel (DELETE with the id); against
   N ``http`` targets on the same nginx.  Both sides are counted as completed runs per
   CPU-second of the omniwatch process (scheduler, state, store included).  Target: the
   journey rate is at least 1/4 of the single-probe rate.
2. **Browser checks** (``--browser``): K ``browser`` targets against a static page with a
   script bundle and a button added by it, ``browser.max_concurrency: 2``.  Reported:
   checks completed per minute, CPU per check, and the peak memory of omniwatch plus its
   Chromium processes, as summed RSS and as summed PSS (Chromium's processes share
   pages, so RSS counts them several times; PSS splits them).

Run: ``.venv/bin/python bench/journeys.py [--targets 200] [--seconds 20] [--browser]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import Nginx, cpu_seconds, free_port, stop_process, wait_http

API = """
    location = /api/login {
      default_type application/json;
      add_header Set-Cookie "SESSIONID=s1; Path=/";
      return 200 '{"code":"0","data":{"token":"tok-1234"}}';
    }
    location /api/accounts/ {
      default_type application/json;
      return 200 '{"balance":"10.00","currency":"CNY"}';
    }
    location = /api/transfers { default_type application/json; return 200 '{"id":"tr-1"}'; }
    location /api/transfers/ { default_type application/json; return 200 '{"ok":true}'; }
"""

PAGE = """<!doctype html>
<html><head><title>bank</title><script src="/static/app.js"></script></head>
<body><h1>Welcome</h1><main id="main">Balance</main></body></html>
"""
BUNDLE = """window.addEventListener('DOMContentLoaded', () => {
  setTimeout(() => { const b = document.createElement('button'); b.id = 'transfer';
    b.textContent = 'Transfer'; document.body.appendChild(b); }, 100);
});
"""


def journey_target(i: int, base: str) -> str:
    return f"""      - name: j{i}
        probe: journey
        vars: {{user: bench, password: secret, account: TEST-1}}
        steps:
          - name: login
            request: {{method: POST, url: "{base}/api/login",
                       json: {{user: "{{{{ user }}}}", password: "{{{{ password }}}}"}}}}
            expect: {{status: [200], json: {{code: "0"}}}}
            extract: {{token: {{json: "$.data.token"}}}}
          - name: balance
            request: {{url: "{base}/api/accounts/{{{{ account }}}}/balance",
                       headers: {{Authorization: "Bearer {{{{ token }}}}"}}}}
            expect: {{json_schema: {{type: object, required: [balance, currency]}}}}
          - name: transfer
            request: {{method: POST, url: "{base}/api/transfers",
                       json: {{to: TEST-ACCT, amount: "0.01"}}}}
            extract: {{transfer_id: {{json: "$.id"}}}}
        finally:
          - name: cancel
            request: {{method: DELETE, url: "{base}/api/transfers/{{{{ transfer_id }}}}"}}
"""


def browser_target(i: int, base: str) -> str:
    return f"""      - name: b{i}
        probe: browser
        steps:
          - goto: "{base}/page/index.html"
          - wait_for: "#transfer"
          - expect_text: "Balance"
          - expect_no_console_errors: true
          - expect_requests_ok: true
"""


def start(workdir: Path, name: str, targets: str, interval: str, timeout: str,
          extra: str = "") -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cfg = workdir / f"{name}.yaml"
    cfg.write_text(f"store: {{sqlite: {workdir}/{name}.db}}\n"
                   f"defaults: {{interval: {interval}, timeout: {timeout}}}\n{extra}"
                   f"channels:\n  app:\n    targets:\n{targets}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--listen",
         f"127.0.0.1:{port}", "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=open(workdir / f"{name}.log", "w"))  # noqa: SIM115
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
    return proc, port


def outcomes(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as r:
        text = r.read().decode()
    out = {"runs": 0.0, "failures": 0.0}
    for fam in text_string_to_metric_families(text):
        if fam.name == "omniwatch_probes":
            for s in fam.samples:
                if s.name == "omniwatch_probes_total":
                    out["runs"] += s.value
                    if s.labels["result"] == "failure":
                        out["failures"] += s.value
                        why = f"failures:{s.labels['reason']}"
                        out[why] = out.get(why, 0.0) + s.value
    return out


def measure(workdir: Path, name: str, targets: str, seconds: float, interval: str,
            timeout: str, extra: str = "", settle: float = 3.0) -> dict[str, float]:
    proc, port = start(workdir, name, targets, interval, timeout, extra)
    pid = proc.pid
    peak = {"rss": 0, "pss": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, pss = tree_memory(pid)
            peak["rss"] = max(peak["rss"], rss)
            peak["pss"] = max(peak["pss"], pss)
            stop.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        time.sleep(settle)  # every target takes its phase (and the browser starts)
        o0 = outcomes(port)
        c0, t0 = tree_cpu(pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = tree_cpu(pid), time.monotonic()
        o1 = outcomes(port)
    finally:
        stop.set()
        sampler.join()
        stop_process(proc)
    runs = o1["runs"] - o0["runs"]
    cpu = c1 - c0
    reasons = {k: v - o0.get(k, 0.0) for k, v in o1.items() if k.startswith("failures:")}
    return {"runs": runs, "failures": o1["failures"] - o0["failures"], **reasons,
            "cpu_seconds": cpu,
            "wall_seconds": t1 - t0, "runs_per_cpu_second": runs / cpu if cpu else 0.0,
            "runs_per_minute": runs / (t1 - t0) * 60, "peak_rss_mb": peak["rss"] / 2**20,
            "peak_pss_mb": peak["pss"] / 2**20}


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants (Chromium's processes)."""
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):  # a process that just exited
            total += cpu_seconds(p)
    return total


def tree_memory(pid: int) -> tuple[int, int]:
    """(summed RSS, summed PSS) in bytes of ``pid`` and its descendants."""
    rss = pss = 0
    for p in descendants(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
    return rss, pss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=200, help="targets per kind (API part)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--browser", action="store_true", help="also measure browser checks")
    ap.add_argument("--browser-targets", type=int, default=12,
                    help="browser targets at a 10 s interval: more than 2 slots can serve")
    ap.add_argument("--browser-seconds", type=float, default=60.0)
    ap.add_argument("--only-browser", action="store_true", help="skip the API part")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep its logs")
    args = ap.parse_args()
    with (tempfile.TemporaryDirectory() if args.keep is None
          else contextlib.nullcontext(args.keep)) as tmp:
        work = Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        work.chmod(0o755)  # nginx's workers (not root) read the page from here
        site = work / "site"
        (site / "page").mkdir(parents=True, exist_ok=True)
        (site / "static").mkdir(exist_ok=True)
        (site / "page" / "index.html").write_text(PAGE)
        (site / "static" / "app.js").write_text(BUNDLE)
        nginx = Nginx(work / "nginx", locations=API + f"""
    location /page/ {{ root {site}; }}
    location /static/ {{ root {site}; }}
""").start()
        base = f"http://127.0.0.1:{nginx.port}"
        report: dict[str, object] = {"targets": args.targets, "seconds": args.seconds}
        try:
            single = "".join(f"      - {{name: h{i}, probe: http, url: '{base}/health'}}\n"
                             for i in range(args.targets))
            journeys = "".join(journey_target(i, base) for i in range(args.targets))
            if not args.only_browser:
                h = measure(work, "http", single, args.seconds, "1s", "900ms")
                j = measure(work, "journey", journeys, args.seconds, "1s", "900ms")
                report["http"], report["journey"] = h, j
                report["journey_to_probe_ratio"] = (j["runs_per_cpu_second"]
                                                    / h["runs_per_cpu_second"])
            if args.browser or args.only_browser:
                pages = "".join(browser_target(i, base) for i in range(args.browser_targets))
                report["browser"] = measure(
                    work, "browser", pages, args.browser_seconds, "10s", "9s",
                    extra=f"browser: {{max_concurrency: 2, screenshot_dir: {work}/shots}}\n",
                    settle=12.0)
        finally:
            nginx.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
