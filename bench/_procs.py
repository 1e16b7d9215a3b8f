"""Benchmark plumbing: start nginx/exporters on loopback, read CPU and RSS from /proc."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Block until ``url`` answers at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def need(binary: str) -> str:
    """The path of ``binary``, or exit with how to install it."""
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"{binary} not found: run scripts/setup (Debian packages)")
    return path


@dataclass
class Nginx:
    """A loopback nginx answering ``/health`` with a small JSON body.

    ``locations`` adds ``location`` blocks before the catch-all one (a fake API, a static
    ``root`` for pages): nginx answers in C, so a benchmark measures the prober only.
    """

    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    locations: str = ""

    def start(self) -> Nginx:
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {self.workdir}/tmp;
  proxy_temp_path {self.workdir}/tmp;
  fastcgi_temp_path {self.workdir}/tmp;
  uwsgi_temp_path {self.workdir}/tmp;
  scgi_temp_path {self.workdir}/tmp;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
{self.locations}
    location / {{ default_type application/json; return 200 '{{"status":"UP"}}'; }}
  }}
}}
""")
        self.proc = subprocess.Popen(
            [need("nginx"), "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.port}/health")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class _Health(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx answers

    def do_GET(self) -> None:
        body = b'{"status": "UP"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def health_server() -> Iterator[int]:
    """A threaded HTTP server on 127.0.0.1 answering every GET with 200; yields its port."""
    with serve_http(_Health) as port:
        yield port


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM ``proc`` and wait for it; SIGKILL it if it outlives ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def serve_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served by a threaded HTTP server on 127.0.0.1; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
