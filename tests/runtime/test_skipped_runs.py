"""Skipped runs are exported per target, so a hung target's gaps are not silent."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.procs import OmniwatchProcess, http_target_server, wait_for

CONFIG = """\
store: {{sqlite: omniwatch.db}}
defaults: {{interval: 1s, timeout: 1s}}
channels:
  app:
    targets:
      - {{name: app-hung, probe: http, url: "http://127.0.0.1:{port}/hang"}}
      - {{name: app-ok, probe: http, url: "http://127.0.0.1:{port}/ok"}}
"""


def skipped(proc: OmniwatchProcess, target: str) -> float:
    labels = frozenset({("channel", "app"), ("target", target), ("reason", "busy")})
    return proc.samples().get(("omniwatch_probe_runs_skipped_total", labels), 0.0)


def test_a_run_longer_than_the_interval_is_counted_as_skipped(tmp_path: Path) -> None:
    with http_target_server() as port:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(CONFIG.format(port=port))
        proc = OmniwatchProcess(cfg)
        try:
            # A hung probe times out after 1 s (plus the HTTP client's own slack), so
            # the run due one interval later finds it still going.
            wait_for(lambda: skipped(proc, "app-hung") >= 1, timeout=20)
            assert skipped(proc, "app-ok") == 0
            assert proc.stop(signal.SIGTERM) == 0
        finally:
            proc.stop(signal.SIGKILL)
