"""``/probe`` is bounded, counted and cancelled with its client: a real process, real sockets.

The target is a TCP server that accepts, reads and never answers, and that notes when
the monitor closes its side: that is how "the probe stopped" is observed from outside.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, wait_for

CONFIG = """\
store: {{sqlite: omniwatch.db, flush_interval: 1d}}
server: {{probe_concurrency: {cap}}}
scheduler: {{max_concurrency: {max_concurrency}}}
channels:
  app:
    targets:
      # interval 1d: the scheduler itself never probes it while the test runs
      - {{name: hang, probe: http, url: "http://127.0.0.1:{port}/", interval: 1d,
         timeout: 60s}}
"""


@dataclass
class HangingServer:
    """Accepts connections and never answers; counts opened and peer-closed ones."""

    port: int = 0
    opened: int = 0
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def open_now(self) -> int:
        with self.lock:
            return self.opened - self.closed


@contextmanager
def hanging_server() -> Iterator[HangingServer]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    listener.settimeout(0.2)
    state = HangingServer(port=int(listener.getsockname()[1]))
    stop = threading.Event()

    def hold(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            while not stop.is_set():
                try:
                    if not conn.recv(65536):
                        break  # the monitor closed its side: the probe is over
                except TimeoutError:
                    continue
                except OSError:
                    break
            with state.lock:
                state.closed += 1

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with state.lock:
                state.opened += 1
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join()
        listener.close()


def start(tmp_path: Path, hang: HangingServer, cap: int,
          max_concurrency: int = 512) -> OmniwatchProcess:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(cap=cap, max_concurrency=max_concurrency, port=hang.port))
    return OmniwatchProcess(cfg)


def open_probe_request(port: int) -> socket.socket:
    """A client that asks for ``/probe?target=hang`` and then just waits."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /probe?target=hang HTTP/1.1\r\nHost: omniwatch\r\n\r\n")
    return sock


def value(proc: OmniwatchProcess, name: str, **labels: str) -> float | None:
    return proc.samples().get((name, frozenset(labels.items())))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def hang() -> Iterator[HangingServer]:
    with hanging_server() as server:
        yield server


def test_probe_has_its_own_cap_and_a_scheduler_slot(tmp_path: Path, hang: HangingServer) -> None:
    # max_concurrency 1: the second /probe is admitted but waits for the one scheduler slot.
    proc = start(tmp_path, hang, cap=2, max_concurrency=1)
    first = second = None
    try:
        first = open_probe_request(proc.port)
        wait_for(lambda: hang.opened == 1)
        second = open_probe_request(proc.port)
        wait_for(lambda: value(proc, "omniwatch_probe_requests_in_flight") == 2)
        assert value(proc, "omniwatch_probes_in_flight") == 1
        assert hang.opened == 1  # the waiting one opened no socket

        status, body = proc.get("/probe?target=hang")
        assert status == 503
        assert "server.probe_concurrency" in body
        with socket.create_connection(("127.0.0.1", proc.port)) as raw:
            raw.sendall(b"GET /probe?target=hang HTTP/1.1\r\nHost: o\r\n\r\n")
            head = raw.recv(65536).decode()
        assert head.startswith("HTTP/1.1 503")
        assert "Retry-After: 1" in head
        assert value(proc, "omniwatch_http_requests_rejected_total",
                     handler="/probe", code="503") == 2
        rejected = [e for e in proc.events() if e.get("event") == "http_request_rejected"]
        assert len(rejected) == 2
        assert rejected[0]["handler"] == "/probe"

        # The first client leaves: its probe is cancelled (the target sees the close)
        # and the waiting request gets the slot.
        first.close()
        wait_for(lambda: hang.closed == 1)
        wait_for(lambda: hang.opened == 2)
        second.close()
        wait_for(lambda: hang.closed == 2)
        wait_for(lambda: value(proc, "omniwatch_probe_requests_in_flight") == 0)
        assert value(proc, "omniwatch_probes_in_flight") == 0
    finally:
        for sock in (first, second):
            if sock is not None:
                sock.close()
        proc.stop(signal.SIGKILL)


def test_clients_that_give_up_release_their_probes_and_sockets(
        tmp_path: Path, hang: HangingServer) -> None:
    proc = start(tmp_path, hang, cap=16)
    try:
        assert proc.get("/healthz")[0] == 200
        baseline = open_fds(proc.proc.pid)
        clients = [open_probe_request(proc.port) for _ in range(200)]
        # At most the cap ever reached the target; the rest were answered 503 at once.
        wait_for(lambda: value(proc, "omniwatch_http_requests_rejected_total",
                               handler="/probe", code="503") == 200 - 16)
        wait_for(lambda: hang.opened == 16)
        for sock in clients:
            sock.close()
        wait_for(lambda: hang.closed == 16)
        wait_for(lambda: value(proc, "omniwatch_probe_requests_in_flight") == 0)
        assert value(proc, "omniwatch_probes_in_flight") == 0
        assert hang.opened == 16
        # Client and target sockets are all released (a scrape's own socket aside).
        wait_for(lambda: open_fds(proc.proc.pid) <= baseline + 1)
    finally:
        proc.stop(signal.SIGKILL)
