"""Helpers to run omniwatch and other real servers as processes in tests."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def run_omniwatch(*args: str, cwd: Path | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m monitor ARGS`` to completion, output captured as text."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)

class _Handler(BaseHTTPRequestHandler):
    """``/ok`` answers 200 ``{"status":"UP"}``; ``/fail`` 503; ``/hang`` never answers."""

    def do_GET(self) -> None:
        if self.path.startswith("/hang"):
            time.sleep(30)
            return
        status = 200 if self.path.startswith("/ok") else 503
        body = json.dumps({"status": "UP" if status == 200 else "DOWN"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def http_target_server(ssl_context: ssl.SSLContext | None = None) -> Iterator[int]:
    """A real threaded HTTP server on 127.0.0.1 port 0 (HTTPS with ``ssl_context``);
    yields its port.  Threaded, because the monitor under test is another process."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class OmniwatchProcess:
    """``python -m monitor run`` as a child process with JSON logs captured."""

    def __init__(self, config: Path, extra_args: tuple[str, ...] = (), *,
                 log_path: Path | None = None) -> None:
        # A log of its own per process: a restart on the same config must not overwrite
        # what the first process logged.
        self.log_path = log_path or config.with_suffix(".log")
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "-c", str(config),
             "--listen", "127.0.0.1:0", "--log-format", "json", *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ},
        )
        try:
            self.port = self._wait_for_port()
        except RuntimeError:
            self.proc.kill()
            self.proc.wait()
            self._log.close()
            raise

    def events(self) -> list[dict[str, object]]:
        """Every JSON log line so far."""
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def _wait_for_port(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events():
                if ev.get("event") == "listening":
                    url = str(ev["url"])
                    return int(url.rsplit(":", 1)[1].split("/")[0])
            if self.proc.poll() is not None:
                raise RuntimeError(f"omniwatch exited early:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"omniwatch did not start:\n{self.log_path.read_text()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path: str) -> tuple[int, str]:
        req = urllib.request.Request(self.url(path), method="POST", data=b"")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Scrape ``/metrics`` and index every sample by name and labels."""
        status, text = self.get("/metrics")
        assert status == 200
        out = {}
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()


@contextmanager
def omniwatch_running(start: Callable[[], OmniwatchProcess],
                      env: Mapping[str, str] | None = None) -> Iterator[OmniwatchProcess]:
    """``start()``'s process, stopped (cleanly, exit 0) at the end; ``env`` is set here
    meanwhile, so the process and any CLI run beside it inherit it (a config file names
    such a variable, ``${TOKEN}``, and never holds its value)."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        proc = start()
        try:
            yield proc
        finally:
            assert proc.stop() == 0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wait_for(pred: Callable[[], object], timeout: float = 15.0, every: float = 0.1) -> object:
    """Poll ``pred`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
