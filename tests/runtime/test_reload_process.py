"""Reloads of a real ``omniwatch run``: a burst is coalesced, probing goes on, and a new
interval never brings a probe early."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.procs import OmniwatchProcess, wait_for

IDLE_TARGETS = 1000  # enough that building the config costs a real share of a second


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.hits: dict[str, list[float]] = {}


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits.setdefault(self.path, []).append(time.time())
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def recorder() -> Iterator[_Recorder]:
    """A real HTTP server that notes when each path was requested."""
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _config(port: int, idle: int, fast_interval: str = "1s", version: int = 0) -> str:
    lines = ["store: {sqlite: omniwatch.db}", "defaults: {interval: 1s, timeout: 800ms}",
             "channels:", "  app:", "    targets:"]
    for i in range(3):
        lines.append(f'      - {{name: fast-{i}, probe: http, interval: {fast_interval}, '
                     f'url: "http://127.0.0.1:{port}/fast-{i}"}}')
    if idle:
        lines += ["  branch:", "    targets:"]
    for i in range(idle):
        # Hourly: present in every reload, almost never probed during the test.
        lines.append(f"      - {{name: idle-{i}, probe: tcp, host: 127.0.0.1, "
                     f"port: {1 + (i + version) % 2}, interval: 1h}}")
    return "\n".join(lines) + "\n"


def _counter(proc: OmniwatchProcess, name: str, **labels: str) -> float:
    return proc.samples().get((name, frozenset(labels.items())), 0.0)


def _attempts(proc: OmniwatchProcess, target: str) -> float:
    return _counter(proc, "omniwatch_probe_attempts_total", channel="app", target=target)


def test_a_burst_of_reloads_is_coalesced_and_probing_goes_on(tmp_path: Path) -> None:
    with recorder() as server:
        port = int(server.server_address[1])
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(_config(port, IDLE_TARGETS))
        proc = OmniwatchProcess(cfg)
        try:
            wait_for(lambda: all(_attempts(proc, f"fast-{i}") >= 2 for i in range(3)),
                     timeout=30)
            before = {i: _attempts(proc, f"fast-{i}") for i in range(3)}
            # Every reload changes half the idle targets, so each one has work to apply.
            cfg.write_text(_config(port, IDLE_TARGETS, version=1))
            with ThreadPoolExecutor(max_workers=30) as pool:
                answers = list(pool.map(lambda _: proc.post("/-/reload"), range(30)))
            assert answers == [(200, "reloaded\n")] * 30
            s = proc.samples()
            assert s[("omniwatch_config_reload_requests_total", frozenset())] == 30
            applied = s[("omniwatch_config_reloads_total", frozenset({("result", "applied")}))]
            # 30 requests made while the first reload read the file: that one and one
            # more (a straggler may open a third), never one each.
            assert 1 <= applied <= 3
            reloaded = [ev for ev in proc.events() if ev.get("event") == "config_reloaded"]
            assert len(reloaded) == applied
            assert reloaded[0]["changed"] == IDLE_TARGETS
            assert reloaded[0]["added"] == 0
            assert reloaded[0]["removed"] == 0
            # Unchanged targets kept their state (counters only grew) and kept being
            # probed during and after the burst, none of them late by seconds or skipped.
            wait_for(lambda: all(_attempts(proc, f"fast-{i}") >= before[i] + 2
                                 for i in range(3)), timeout=20)
            s = proc.samples()
            lateness = "omniwatch_scheduler_lateness_seconds"
            started = s[(f"{lateness}_count", frozenset())]
            within_5s = s[(f"{lateness}_bucket", frozenset({("le", "5.0")}))]
            assert started - within_5s == 0
            assert s[("omniwatch_probes_skipped_busy_total", frozenset())] == 0
        finally:
            proc.stop(signal.SIGKILL)


def test_a_new_interval_never_brings_a_probe_early(tmp_path: Path) -> None:
    with recorder() as server:
        port = int(server.server_address[1])
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(_config(port, 0, fast_interval="1s"))
        proc = OmniwatchProcess(cfg)
        try:
            wait_for(lambda: all(_attempts(proc, f"fast-{i}") >= 2 for i in range(3)),
                     timeout=20)
            cfg.write_text(_config(port, 0, fast_interval="8s"))
            proc.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: _counter(proc, "omniwatch_config_reloads_total",
                                      result="applied") == 1)
            applied_by = time.time()
            # Two probes of each target on the new interval.
            with server.lock:
                seen = {p: len(v) for p, v in server.hits.items()}

            def two_more() -> bool:
                with server.lock:
                    return all(len(server.hits[f"/fast-{i}"]) >= seen[f"/fast-{i}"] + 2
                               for i in range(3))

            wait_for(two_more, timeout=30)
            with server.lock:
                hits = {p: list(v) for p, v in server.hits.items()}
        finally:
            proc.stop(signal.SIGKILL)
    for i in range(3):
        times = hits[f"/fast-{i}"]
        gaps = [b - a for a, b in itertools.pairwise(times) if b > applied_by]
        # The first gap spans the change: the last 1 s probe to the first 8 s one.  A
        # little slack for the path from the scheduler to this server's clock.
        assert gaps, i
        assert min(gaps) >= 8 - 0.3, (i, gaps)
