"""A real Prometheus (Debian's ``prometheus``) for tests, on loopback only.

:func:`running_prometheus` writes the given configuration, starts the binary with its
storage in the test's directory on 127.0.0.1 and a free port (Prometheus cannot bind port
0 and report it, so a taken port is retried), waits for ``/-/ready`` and kills it by PID
afterwards.  :meth:`Prometheus.query` runs PromQL through the HTTP API.  Without the
binary the test skips, except under ``CI=true`` where it fails
(:func:`tests.support.require`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import free_port, require, wait_ready


@dataclass
class Prometheus:
    """A running Prometheus: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/PATH?params``; the ``data`` of a successful answer."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as resp:
            doc = json.load(resp)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (``[{"metric": {...}, "value": [t, "v"]}]``)."""
        data = self.api("query", query=promql)
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, promql: str, label: str) -> dict[str, float]:
        """An instant query's values by one label (each series must have it)."""
        return {r["metric"][label]: float(r["value"][1]) for r in self.query(promql)}

    def log(self) -> str:
        """Everything Prometheus logged so far."""
        return self.log_path.read_text("utf-8", "replace")

    def stop(self) -> None:
        """Kill the process (by its PID) and reap it; safe to call twice."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, config_yaml: str, *,
                       ready_timeout: float = 60.0) -> Iterator[Prometheus]:
    """Prometheus with ``config_yaml`` (files under ``tmp_path/prometheus``), stopped on
    exit.  Raises RuntimeError, with the end of its log, if it does not become ready."""
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus binary not installed (Debian package prometheus)")
    assert binary is not None
    root = tmp_path / "prometheus"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "prometheus.yml"
    config.write_text(config_yaml, "utf-8")
    log_path = root / "prometheus.log"
    prom: Prometheus | None = None
    for _ in range(3):  # the free port may be taken between our probe and its bind
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        prom = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
        if wait_ready(prom.process, prom.url + "/-/ready", ready_timeout):
            break
        prom.stop()
        if "address already in use" not in prom.log():
            raise RuntimeError(f"prometheus did not become ready:\n{prom.log()[-2000:]}")
        prom = None
    if prom is None:
        raise RuntimeError(f"prometheus found no free port:\n{log_path.read_text()[-2000:]}")
    try:
        yield prom
    finally:
        prom.stop()
