"""Issue 8: a target URL's user-info never appears in logs, /metrics or /probe output."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.procs import OmniwatchProcess, http_target_server, wait_for

CONFIG = """\
store: {{sqlite: omniwatch.db}}
defaults: {{interval: 1s, timeout: 800ms}}
channels:
  app:
    targets:
      - {{name: app-down, probe: http, url: "http://alice:T0kenXYZ@127.0.0.1:{port}/fail?k=Q5ecret"}}
"""


def test_url_credentials_never_leave_the_process(tmp_path: Path) -> None:
    with http_target_server() as port:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(CONFIG.format(port=port))
        proc = OmniwatchProcess(cfg)
        try:
            wait_for(lambda: any(e.get("event") == "probe_failed" for e in proc.events()),
                     timeout=20)
            status, debug = proc.get("/probe?target=app-down&debug=true")
            assert status == 200
            assert '"reason": "http_status"' in debug
            _, metrics = proc.get("/metrics")
            _, index = proc.get("/")
        finally:
            proc.stop(signal.SIGTERM)
    logs = proc.log_path.read_text()
    assert "app-down" in logs
    for text in (debug, metrics, index, logs):
        assert "T0kenXYZ" not in text
        assert "alice" not in text
        assert "Q5ecret" not in text
