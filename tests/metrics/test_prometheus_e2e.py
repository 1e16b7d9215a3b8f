"""A real Prometheus scrapes a real ``omniwatch run`` and sees the right values."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

from tests.procs import OmniwatchProcess, http_target_server, wait_for
from tests.support import require


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _try_query(port: int, promql: str) -> list[dict[str, object]]:
    """Like :func:`_query`, but empty while Prometheus is still starting."""
    try:
        return _query(port, promql)
    except OSError:
        return []


def _query(port: int, promql: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success"
    result: list[dict[str, object]] = doc["data"]["result"]
    return result


def test_prometheus_scrapes_omniwatch(tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    require(prometheus is not None, "prometheus binary not installed (apt-get install prometheus)")
    assert prometheus is not None
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
        prom_port = _free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: omniwatch\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{ow.port}']}}]\n"
        )
        with (tmp_path / "prometheus.log").open("w") as plog:
            prom = subprocess.Popen(
                [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=plog, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: _try_query(prom_port, 'up{job="omniwatch"} == 1'), timeout=60,
                         every=0.5)
                wait_for(lambda: len(_query(prom_port, "omniwatch_probe_success")) == 2,
                         timeout=30, every=0.5)
                values = {r["metric"]["target"]: r["value"][1]  # type: ignore[index]
                          for r in _query(prom_port, "omniwatch_probe_success")}
                assert values == {"app-ok": "1", "web-down": "0"}
                failing = _query(prom_port, 'omniwatch_probes_total{result="failure"}')
                assert {r["metric"]["reason"] for r in failing} == {"http_status"}  # type: ignore[index]
                build = _query(prom_port, "omniwatch_build_info")
                assert build
                assert build[0]["metric"]["version"]
            finally:
                prom.send_signal(signal.SIGTERM)
                prom.wait(20)
                ow.stop()
