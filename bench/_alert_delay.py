"""The delay half of ``bench/alerts.py``: a real ``omniwatch run``, targets that fail on
demand, Slack on loopback; and Alertmanager's own delay as the peer.

**Delay of one episode** = the time the local Slack accepted the episode's first post
(the message's ``ts``, which the server takes when it stores the message) minus the time
of the failure that confirmed the alert: the ``target_down.after``-th ``probe_failed``
log line of the target after it was switched to failing (its ``ts``, logged as the
result is folded into the state).  Both clocks are this machine's.

Every target has its own group (``group_by: [alertname, target]``) and its own Slack
channel (a route per target), so Slack's pace of one message a second per channel
never queues one episode behind another: the figure is the delay, not the pace.
``channel_down`` is off so that the targets' alerts are not inhibited by their channel's.

**The peer**: Alertmanager (the Debian binary), the same ``group_wait``, a group per
alert, a webhook receiver on loopback; its delay is from the ``POST /api/v2/alerts``
being answered to the webhook receiving the notification.  That is a lower bound of
Alertmanager's path in production, where Prometheus adds its scrape interval, its rule
evaluation interval and the rule's ``for`` before Alertmanager hears of anything.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _procs import free_port, serve_http, stop_process

from tests.slack_server import TOKEN, SlackServer  # the tests' local Slack

AFTER = 2  # target_down.after: the second consecutive failure confirms
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")


class Switch:
    """Which targets fail now: ``/t/K`` answers 503 while K is failing, else 200."""

    def __init__(self) -> None:
        self.failing: set[int] = set()
        self.lock = threading.Lock()

    def set(self, failing: set[int]) -> None:
        with self.lock:
            self.failing = set(failing)

    def fails(self, k: int) -> bool:
        with self.lock:
            return k in self.failing


@contextmanager
def switched_server(switch: Switch) -> Iterator[int]:
    """A threaded HTTP server on 127.0.0.1 serving :class:`Switch`'s verdicts."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                k = int(self.path.rsplit("/", 1)[1])
            except ValueError:
                k = -1
            bad = switch.fails(k)
            body = b'{"status":"DOWN"}' if bad else b'{"status":"UP"}'
            self.send_response(503 if bad else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serve_http(Handler) as port:
        yield port


def slack_channel(k: int) -> str:
    return f"#bench-{k:02d}"


def delay_config(port: int, slack_api: str, targets: int, group_wait: float) -> str:
    lines = ["store: {sqlite: bench-alerts.db}", "defaults: {interval: 1s, timeout: 1s}",
             "channels:", "  bench:", "    targets:"]
    lines += [f'      - {{name: d{k:02d}, probe: http, url: "http://127.0.0.1:{port}/t/{k}"}}'
              for k in range(targets)]
    lines += ["alerts:",
              f'  slack: {{token: "{TOKEN}", channel: "#bench-other", api_url: "{slack_api}"}}',
              f"  rules: {{target_down: {{after: {AFTER}, resolve_after: 1}}, "
              "channel_down: false}",
              "  group_by: [alertname, target]",
              f"  group_wait: {group_wait:g}s", "  group_interval: 1s", "  repeat_interval: 1h",
              "  routes:"]
    lines += [f'    - {{match: {{target: d{k:02d}}}, slack: {{channel: "{slack_channel(k)}"}}}}'
              for k in range(targets)]
    return "\n".join(lines) + "\n"


@dataclass
class DelayResult:
    """Delays in seconds, one per episode, and how they were made."""

    delays: list[float] = field(default_factory=list)
    group_wait: float = 2.0
    targets: int = 0
    rounds: int = 0
    missing: int = 0  # episodes with no post (should be 0)


def _log_ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _failures(log: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"probe_failed"' in line:
            ev = json.loads(line)
            out.setdefault(str(ev["target"]), []).append(_log_ts(ev["ts"]))
    return out


def _wait(pred: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def measure_omniwatch(targets: int, rounds: int, group_wait: float,
                      tree: Path) -> DelayResult:
    """``rounds`` rounds of every target failing at once then recovering, against
    ``python -m monitor run`` from the checkout ``tree``."""
    result = DelayResult(group_wait=group_wait, targets=targets, rounds=rounds)
    channels = {"#bench-other": "C0000000999",
                **{slack_channel(k): f"C{k + 1:010d}" for k in range(targets)}}
    switch = Switch()
    with tempfile.TemporaryDirectory(prefix="omniwatch-bench-alerts-") as tmp, \
            switched_server(switch) as port, SlackServer(channels=channels) as slack:
        work = Path(tmp)
        cfg = work / "omniwatch.yaml"
        cfg.write_text(delay_config(port, slack.api_url, targets, group_wait))
        log_path = work / "run.log"
        log = log_path.open("w")
        env = {**os.environ, "PYTHONPATH": str(tree)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--listen",
             "127.0.0.1:0", "--log-format", "json"],
            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _wait(lambda: '"alerts_leader"' in log_path.read_text(), 60):
                raise RuntimeError(f"omniwatch did not start alerting:\n{log_path.read_text()}")
            time.sleep(3)  # every target probed (up) a few times
            for _ in range(rounds):
                _round(result, switch, slack, targets, log_path)
        finally:
            stop_process(proc, 30)
            log.close()
    return result


def _round(result: DelayResult, switch: Switch, slack: SlackServer, targets: int,
           log_path: Path) -> None:
    updates = len(slack.updates())
    # Phases relative to the evaluation tick vary on their own (probe offsets are spread
    # by a hash of the target name); a random pause moves the whole round too.
    time.sleep(random.uniform(0.0, 1.0))
    failed_at = time.time()
    switch.set(set(range(targets)))

    def posted(k: int) -> float | None:
        for m in slack.messages(slack_channel(k)):
            if float(m.ts) > failed_at:
                return float(m.ts)
        return None

    _wait(lambda: all(posted(k) is not None for k in range(targets)), 30 + 3 * targets)
    failures = _failures(log_path)
    for k in range(targets):
        at = posted(k)
        runs = [t for t in failures.get(f"d{k:02d}", []) if t > failed_at]
        if at is None or len(runs) < AFTER:
            result.missing += 1
            continue
        result.delays.append(at - runs[AFTER - 1])
    switch.set(set())
    # Resolved: each original message updated in place; then a quiet second.
    _wait(lambda: len(slack.updates()) >= updates + targets, 30 + 3 * targets)
    time.sleep(1.0)


# --- Alertmanager ---------------------------------------------------------------------


@contextmanager
def _hook() -> Iterator[tuple[str, dict[str, float]]]:
    """A webhook receiver: alert ``target`` label -> the time its first notice came."""
    seen: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            at = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                for a in body.get("alerts", []):
                    if a.get("status") == "firing":
                        seen.setdefault(a["labels"]["target"], at)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen
    finally:
        server.shutdown()
        server.server_close()


def measure_alertmanager(targets: int, rounds: int, group_wait: float) -> DelayResult | None:
    """Alertmanager's delay from its API accepting an alert to its webhook call; None
    without the binary."""
    if not ALERTMANAGER.exists():
        return None
    result = DelayResult(group_wait=group_wait, targets=targets, rounds=rounds)
    with tempfile.TemporaryDirectory(prefix="omniwatch-bench-am-") as tmp, _hook() as (url, seen):
        root = Path(tmp)
        (root / "am.yml").write_text(
            f"route:\n  receiver: hook\n  group_by: [alertname, target]\n"
            f"  group_wait: {group_wait:g}s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n"
            f'      - url: "{url}"\n        send_resolved: false\n')
        port = free_port()
        log = (root / "am.log").open("w")
        proc = subprocess.Popen(
            [str(ALERTMANAGER), f"--config.file={root / 'am.yml'}",
             f"--storage.path={root / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            if not _wait(lambda: _ready(base), 30):
                raise RuntimeError("alertmanager did not become ready")
            for r in range(rounds):
                time.sleep(random.uniform(0.0, 1.0))
                sent: dict[str, float] = {}
                for k in range(targets):
                    name = f"r{r}-d{k:02d}"
                    _post_alert(base, name)
                    sent[name] = time.time()
                _wait(lambda s=sent: all(n in seen for n in s), 30)
                for name, at in sent.items():
                    if name in seen:
                        result.delays.append(seen[name] - at)
                    else:
                        result.missing += 1
        finally:
            proc.kill()
            proc.wait()
            log.close()
    return result


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/-/ready", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _post_alert(base: str, target: str) -> None:
    body = json.dumps([{"labels": {"alertname": "TargetDown", "target": target},
                        "annotations": {"summary": f"{target} is down"}}]).encode()
    req = urllib.request.Request(base + "/api/v2/alerts", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()
