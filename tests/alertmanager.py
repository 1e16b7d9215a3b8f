"""A real Alertmanager (Debian's ``prometheus-alertmanager``) for tests, on loopback only.

:func:`start_alertmanager` runs the binary on 127.0.0.1 and a free port, clustering off
(``--cluster.listen-address=``), storage in the test's directory, and returns once
``/-/ready`` answers; :meth:`Alertmanager.stop` kills it by PID.  The ``alertmanager``
fixture (default config) and :func:`running_alertmanager` (any config, e.g.
:func:`webhook_config` to see what Alertmanager notifies) do both around a block.
Without the binary they skip, except under ``CI=true`` where they fail
(:func:`tests.support.require`).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port, require, wait_ready

ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")

# One receiver that drops everything; timers short so tests see notifications soon.
DEFAULT_CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


def webhook_config(url: str, *, group_by: tuple[str, ...] = ("alertname",)) -> str:
    """A config that sends every group to the webhook at ``url`` at once (``group_wait``
    0s), changes each second, resolved ones too: what Alertmanager notifies is what it
    made of our alerts."""
    return f"""\
route:
  receiver: hook
  group_by: [{", ".join(group_by)}]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: "{url}"
        send_resolved: true
"""


def alertmanager_available() -> bool:
    """Whether the Alertmanager binary is installed."""
    return ALERTMANAGER_BIN.exists()


def require_alertmanager() -> None:
    """Skip the test without the binary (fail under ``CI=true``)."""
    require(alertmanager_available(), f"Alertmanager binary not found at {ALERTMANAGER_BIN}"
            " (Debian package prometheus-alertmanager)")


@dataclass
class Alertmanager:
    """A running Alertmanager: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """Kill the process (by its PID) and reap it; safe to call twice."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def get(self, path: str) -> Any:
        """``GET url+path`` decoded as JSON (for assertions on Alertmanager's view)."""
        with urllib.request.urlopen(self.url + path, timeout=5) as resp:
            return json.load(resp)

    def log(self) -> str:
        """Everything Alertmanager logged so far."""
        return self.log_path.read_text("utf-8", "replace")


def start_alertmanager(tmp_path: Path, config_yaml: str | None = None, *,
                       ready_timeout: float = 30.0) -> Alertmanager:
    """Start Alertmanager with ``config_yaml`` (default: :data:`DEFAULT_CONFIG`) and
    wait until it is ready.  Its files live under ``tmp_path/alertmanager``.

    Raises RuntimeError, with the end of its log, if it does not become ready.
    """
    root = tmp_path / "alertmanager"
    root.mkdir(parents=True, exist_ok=True)
    config = root / "alertmanager.yml"
    config.write_text(config_yaml if config_yaml is not None else DEFAULT_CONFIG, "utf-8")
    log_path = root / "alertmanager.log"
    for _ in range(3):  # the free port may be taken between our probe and its bind
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [str(ALERTMANAGER_BIN), f"--config.file={config}",
                 f"--storage.path={root / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}",
                 "--cluster.listen-address=", "--log.level=debug"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        am = Alertmanager(f"http://127.0.0.1:{port}", process, log_path)
        if wait_ready(am.process, am.url + "/-/ready", ready_timeout):
            return am
        am.stop()
        if "address already in use" not in am.log():
            break
    raise RuntimeError(f"alertmanager did not become ready:\n{am.log()[-2000:]}")


@contextlib.contextmanager
def running_alertmanager(tmp_path: Path, config_yaml: str | None = None) -> Iterator[Alertmanager]:
    """:func:`start_alertmanager` (after :func:`require_alertmanager`), stopped on exit."""
    require_alertmanager()
    am = start_alertmanager(tmp_path, config_yaml)
    try:
        yield am
    finally:
        am.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """A running Alertmanager with :data:`DEFAULT_CONFIG` for one test."""
    with running_alertmanager(tmp_path) as am:
        yield am
