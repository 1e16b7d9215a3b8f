"""Issue 3 end to end: ``omniwatch run`` writes history, ``slo``/``report``/``rules`` read it.

A real process probes a real local server that fails a known share of requests; it is
killed with SIGKILL and restarted, and the history must hold every probe up to the last
flush.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, wait_for
from tests.procs import run_omniwatch as omniwatch
from tests.support import require

FAIL_EVERY = 4  # every fourth request fails: a 75% SLI, far below any objective


class CountingServer:
    """Serves /flaky, failing every FAIL_EVERY-th request, and counts what it answered."""

    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer.lock:
                    fail = (outer.ok + outer.failed + 1) % FAIL_EVERY == 0
                    if fail:
                        outer.failed += 1
                    else:
                        outer.ok += 1
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def flaky() -> Iterator[CountingServer]:
    s = CountingServer()
    yield s
    s.server.shutdown()
    s.server.server_close()


def _config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(
        "store: {sqlite: history.db, flush_interval: 1s}\n"
        "slo: {objective: 99.9%}\n"
        "defaults: {interval: 200ms, timeout: 150ms}\n"
        "channels:\n"
        "  app:\n    targets:\n"
        f"      - {{name: app-flaky, probe: http, url: 'http://127.0.0.1:{port}/flaky'}}\n"
        "  website:\n    targets: []\n")
    return cfg




def _slo(cfg: Path) -> tuple[int, dict[str, dict[str, object]]]:
    out = omniwatch("slo", "-c", str(cfg), "--json")
    doc = json.loads(out.stdout)
    return out.returncode, {s["slo"]: s for s in doc["slos"]}


def test_history_survives_sigkill_and_feeds_slo(tmp_path: Path, flaky: CountingServer) -> None:
    cfg = _config(tmp_path, flaky.port)
    proc = OmniwatchProcess(cfg)
    wait_for(lambda: flaky.ok + flaky.failed >= 40, timeout=30)
    # Let one flush pass with probes stopped at a known count: kill right after it.
    time.sleep(1.5)
    proc.stop(signal.SIGKILL)
    served = flaky.ok + flaky.failed

    code, slos = _slo(cfg)
    assert code == 1  # 75% against 99.9% burns far faster than 14.4x: paging
    app = slos["app"]["availability"]
    counted_1h = app["sli_ratio"]["1h"]
    assert counted_1h == pytest.approx(0.75, abs=0.03)
    # Nothing flushed is lost; at most the last flush interval (1 s = 5 probes) is.
    text = omniwatch("slo", "-c", str(cfg)).stdout
    assert "PAGE" in text
    assert slos["website"]["availability"]["sli_ratio"]["1h"] is None  # no data, not 100%
    assert "n/a" in text

    report = omniwatch("report", "-c", str(cfg), "--month",
                       time.strftime("%Y-%m", time.gmtime()), "--format", "json")
    assert report.returncode == 1  # objective missed
    doc = json.loads(report.stdout)
    channels = {c["name"]: c for c in doc["channels"]}
    stored = channels["app"]["counted_probes"]
    assert served - 5 - 2 <= stored <= served
    assert channels["app"]["good_probes"] / stored == pytest.approx(0.75, abs=0.03)

    # A restart carries on from the stored history.
    proc2 = OmniwatchProcess(cfg)
    try:
        wait_for(lambda: flaky.ok + flaky.failed >= served + 20, timeout=30)
        time.sleep(1.5)
    finally:
        proc2.stop(signal.SIGTERM)  # a clean stop flushes everything
    total = flaky.ok + flaky.failed
    doc = json.loads(omniwatch("report", "-c", str(cfg), "--month",
                               time.strftime("%Y-%m", time.gmtime()), "--format", "json").stdout)
    app_row = {c["name"]: c for c in doc["channels"]}["app"]
    assert total - 5 - 2 <= app_row["counted_probes"] <= total


def test_slo_metrics_are_exported(tmp_path: Path, flaky: CountingServer) -> None:
    cfg = _config(tmp_path, flaky.port)
    proc = OmniwatchProcess(cfg)
    try:
        def sli() -> float | None:
            return proc.samples().get(("omniwatch_sli_ratio",
                                       frozenset({("slo", "app"), ("window", "1h")})))
        value = wait_for(lambda: (v := sli()) is not None and v == v and v, timeout=30)
        assert value == pytest.approx(0.75, abs=0.1)
        s = proc.samples()
        assert s[("omniwatch_slo_objective_ratio", frozenset({("slo", "app")}))] == 0.999
        assert s[("omniwatch_slo_status", frozenset({("slo", "app")}))] == 2
        website = s[("omniwatch_sli_ratio", frozenset({("slo", "website"), ("window", "1h")}))]
        assert website != website  # NaN: no data
        assert s[("omniwatch_store_last_flush_success", frozenset())] == 1
        assert ("omniwatch_burn_rate", frozenset({("slo", "app"), ("window", "5m")})) in s
    finally:
        proc.stop()


def test_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    assert promtool is not None
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("slo: {latency_objective: 99%}\nchannels:\n  app:\n    targets:\n"
                   "      - {name: a, probe: tcp, host: 127.0.0.1, port: 1,"
                   " slo: {objective: 99%}}\n"
                   "  branch: {slo: {objective: 99.5%}}\n")
    out = omniwatch("rules", "-c", str(cfg), "-o", str(tmp_path / "rules.yml"))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "rules.yml").read_text()
    assert 'slo: target:a' in text or 'slo: "target:a"' in text or "target:a" in text
    check = subprocess.run([promtool, "check", "rules", str(tmp_path / "rules.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_slo_with_unreachable_postgres_fails_loudly(tmp_path: Path) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("store: {postgres: 'postgresql://nobody:s3cret@127.0.0.1:1/none'}\n"
                   "channels: {app: {targets: []}}\n")
    out = omniwatch("slo", "-c", str(cfg))
    assert out.returncode == 1
    assert "cannot open the PostgreSQL history store" in out.stderr
    assert "s3cret" not in out.stderr
