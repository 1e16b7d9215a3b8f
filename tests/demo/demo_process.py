"""``omniwatch demo`` as a child process: its output read as it comes, its /metrics
scraped while it runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.procs import wait_for

Sample = tuple[str, dict[str, str], float]


class DemoProcess:
    """``python -m monitor demo ARGS --listen 127.0.0.1:0``; stdout collected by a
    reader thread, so the test can look at it while the demo runs."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "demo", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
            # Event lines are stamped in local time, the branch's hours in UTC: one zone
            # for both, so a test can compare them.
            env={**os.environ, "TZ": "UTC"})
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def stdout(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def banner_value(self, label: str) -> str:
        """The value of a banner line (``metrics      http://…``), waiting for it."""
        pattern = re.compile(rf"^  {re.escape(label)}\s+(\S+)", re.M)
        found = wait_for(lambda: pattern.search(self.stdout), timeout=60)
        assert isinstance(found, re.Match)
        return found.group(1)

    def folder(self) -> Path:
        found = wait_for(lambda: re.search(r"every 15s \((\S+)\)", self.stdout), timeout=60)
        assert isinstance(found, re.Match)
        return Path(found.group(1))

    def samples(self, metrics_url: str) -> Iterator[Sample]:
        with urllib.request.urlopen(metrics_url, timeout=10) as r:
            text = r.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                yield s.name, dict(s.labels), s.value

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = -9
        self._reader.join(10)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc
