"""``omniwatch run`` as a real process: scrape, /probe, reloads, shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, http_target_server, wait_for

CONFIG = """\
store: {{sqlite: omniwatch.db}}
defaults: {{interval: 1s, timeout: 800ms}}
channels:
  app:
    targets:
      - {{name: app-ok, probe: http, url: "http://127.0.0.1:{port}/ok",
         expect: {{status: [200], json: {{status: UP}}}}}}
  website:
    targets:
      - {{name: web-down, probe: http, url: "http://127.0.0.1:{port}/fail", confirm: 1,
         timeout: 400ms}}
{extra}"""

EXTRA_TARGET = """\
  branch:
    targets:
      - {{name: branch-core, probe: tcp, host: 127.0.0.1, port: {port}}}
"""


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


@pytest.fixture
def target_port() -> Iterator[int]:
    with http_target_server() as port:
        yield port


@pytest.fixture
def running(tmp_path: Path, target_port: int) -> Iterator[tuple[OmniwatchProcess, Path]]:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(port=target_port, extra=""))
    proc = OmniwatchProcess(cfg)
    try:
        yield proc, cfg
    finally:
        proc.stop(signal.SIGKILL)


def test_metrics_report_what_was_probed(running: tuple[OmniwatchProcess, Path]) -> None:
    proc, _ = running
    ok = ("channel", "app"), ("target", "app-ok")
    down = ("channel", "website"), ("target", "web-down")

    def probed_twice() -> bool:
        s = proc.samples()
        return (s.get(key("omniwatch_probes_total", **dict(ok), result="success", reason="ok"),
                      0) >= 2
                and s.get(key("omniwatch_probes_total", **dict(down), result="failure",
                              reason="http_status"), 0) >= 2)

    wait_for(probed_twice, timeout=20)
    s = proc.samples()
    assert s[key("omniwatch_probe_success", **dict(ok))] == 1
    assert s[key("omniwatch_probe_success", **dict(down))] == 0
    assert s[key("omniwatch_http_status_code", **dict(down))] == 503
    # confirm: 1 means every counted failure took two raw attempts.
    failures = s[key("omniwatch_probes_total", **dict(down), result="failure",
                     reason="http_status")]
    assert s[key("omniwatch_probe_attempts_total", **dict(down))] == 2 * failures
    assert s[key("omniwatch_probe_duration_seconds_count", **dict(ok))] >= 2
    assert s[key("omniwatch_config_last_reload_success")] == 1
    assert s[key("omniwatch_targets", channel="app")] == 1
    assert any(k[0] == "omniwatch_build_info" for k in s)
    assert proc.get("/healthz")[0] == 200
    assert proc.get("/readyz")[0] == 200


def test_probe_endpoint_runs_only_configured_targets(
    running: tuple[OmniwatchProcess, Path],
) -> None:
    proc, _ = running
    status, body = proc.get("/probe?target=app-ok")
    assert status == 200
    assert 'omniwatch_probe_success{channel="app",target="app-ok"} 1' in body
    status, body = proc.get("/probe?target=web-down&debug=true")
    assert status == 200
    assert '"reason": "http_status"' in body
    # No open proxy: an address in the request is never probed.
    assert proc.get("/probe?target=http://127.0.0.1:1/")[0] == 404
    assert proc.get("/probe")[0] == 400


def test_bad_reload_keeps_old_config_and_good_reload_applies(
    running: tuple[OmniwatchProcess, Path], target_port: int,
) -> None:
    proc, cfg = running
    cfg.write_text("channels:\n  app:\n    targets:\n      - {name: x, probe: http}\n")
    proc.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: proc.samples()[key("omniwatch_config_last_reload_success")] == 0)
    assert any(ev.get("event") == "config_reload_refused" for ev in proc.events())
    status, body = proc.post("/-/reload")
    assert status == 400
    assert "channels.app.targets[0]" in body
    # The old targets keep being probed.
    before = proc.samples()[key("omniwatch_probe_attempts_total", channel="app",
                                target="app-ok")]
    wait_for(lambda: proc.samples()[key("omniwatch_probe_attempts_total", channel="app",
                                        target="app-ok")] > before)

    cfg.write_text(CONFIG.format(port=target_port,
                                 extra=EXTRA_TARGET.format(port=target_port)))
    assert proc.post("/-/reload") == (200, "reloaded\n")
    s = proc.samples()
    assert s[key("omniwatch_config_last_reload_success")] == 1
    assert s[key("omniwatch_targets", channel="branch")] == 1
    wait_for(lambda: proc.samples().get(
        key("omniwatch_probe_success", channel="branch", target="branch-core")) == 1)


def test_sigterm_stops_cleanly(running: tuple[OmniwatchProcess, Path]) -> None:
    proc, _ = running
    assert proc.stop(signal.SIGTERM) == 0
    events = [ev.get("event") for ev in proc.events()]
    assert "shutting_down" in events
    assert "monitor_stopped" in events


def test_invalid_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("channels: {app: {targets: [{name: a, probe: gopher}]}}\n")
    out = subprocess.run([sys.executable, "-m", "monitor", "run", "-c", str(cfg)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "bad.yaml: channels.app.targets[0].probe" in out.stderr
