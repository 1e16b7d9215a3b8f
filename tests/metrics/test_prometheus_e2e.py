"""A real Prometheus scrapes a real ``omniwatch run`` and sees the right values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, http_target_server, wait_for
from tests.prometheus import running_prometheus


@pytest.mark.prometheus
def test_prometheus_scrapes_omniwatch(tmp_path: Path) -> None:
    with http_target_server() as target_port:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(
            "defaults: {interval: 1s, timeout: 800ms}\n"
            "channels:\n"
            "  app:\n    targets:\n"
            f"      - {{name: app-ok, probe: http, url: 'http://127.0.0.1:{target_port}/ok'}}\n"
            "  website:\n    targets:\n"
            f"      - {{name: web-down, probe: http, url: 'http://127.0.0.1:{target_port}/fail'}}\n"
        )
        ow = OmniwatchProcess(cfg)
        try:
            with running_prometheus(tmp_path, (
                "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                "  - job_name: omniwatch\n"
                f"    static_configs: [{{targets: ['127.0.0.1:{ow.port}']}}]\n"
            )) as prom:
                wait_for(lambda: prom.query('up{job="omniwatch"} == 1'), timeout=60, every=0.5)
                wait_for(lambda: len(prom.query("omniwatch_probe_success")) == 2,
                         timeout=30, every=0.5)
                values = prom.values("omniwatch_probe_success", "target")
                assert values == {"app-ok": 1.0, "web-down": 0.0}
                failing = prom.query('omniwatch_probes_total{result="failure"}')
                assert {r["metric"]["reason"] for r in failing} == {"http_status"}
                build = prom.query("omniwatch_build_info")
                assert build
                assert build[0]["metric"]["version"]
        finally:
            ow.stop()
