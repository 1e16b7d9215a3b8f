"""Slow and malformed clients against a real ``omniwatch run``, over real sockets."""

from __future__ import annotations

import http.client
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, wait_for

CONFIG = """\
store: {{sqlite: omniwatch.db, flush_interval: 1d}}
server: {{header_timeout: 1s, body_timeout: 2s}}
channels:
  app:
    targets:
      - {{name: {name}, probe: tcp, host: 127.0.0.1, port: 9, interval: 1d}}
"""
# Generous: the server is configured to close after 1 s; this only bounds a failure.
CLOSE_WITHIN_SECONDS = 20.0


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[OmniwatchProcess, Path]]:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(name="first"))
    proc = OmniwatchProcess(cfg)
    try:
        yield proc, cfg
    finally:
        proc.stop(signal.SIGKILL)


def closed_by_server(sock: socket.socket) -> bool:
    """Wait (boundedly) for the server to close ``sock``; False if it never does."""
    sock.settimeout(CLOSE_WITHIN_SECONDS)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_partial_request_head_is_disconnected(running: tuple[OmniwatchProcess, Path]) -> None:
    proc, _ = running
    with socket.create_connection(("127.0.0.1", proc.port)) as stalled, \
            socket.create_connection(("127.0.0.1", proc.port)) as silent:
        stalled.sendall(b"GET /metrics HTTP/1.1\r\nHost: omniwatch\r\nX-Slow: ")
        assert closed_by_server(stalled)
        assert closed_by_server(silent)  # connected, never sent a byte


def test_a_head_trickled_byte_by_byte_is_disconnected(
        running: tuple[OmniwatchProcess, Path]) -> None:
    proc, _ = running
    head = b"GET /metrics HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 1000
    deadline = time.monotonic() + CLOSE_WITHIN_SECONDS
    with socket.create_connection(("127.0.0.1", proc.port)) as sock:
        sock.settimeout(0.2)
        closed = False
        for byte in head:
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue  # nothing from the server yet: keep trickling
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed
    # The server still serves everyone else.
    assert proc.get("/healthz") == (200, "ok\n")


def test_oversized_request_line_logs_one_short_line(
        running: tuple[OmniwatchProcess, Path]) -> None:
    proc, _ = running
    bad_requests = [
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: o\r\n\r\n",  # request line too long
        b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n",  # header too long
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # TLS on HTTP
    ]
    for raw in bad_requests:
        with socket.create_connection(("127.0.0.1", proc.port)) as sock:
            sock.sendall(raw)
            sock.settimeout(10)
            assert sock.recv(65536).split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert proc.get("/healthz")[0] == 200
    s = proc.samples()
    assert s[("omniwatch_http_requests_rejected_total",
              frozenset({("handler", ""), ("code", "400")}))] == len(bad_requests)
    log = proc.log_path.read_text()
    assert "Traceback" not in log
    assert "aaaaaaaaaa" not in log
    assert "bbbbbbbbbb" not in log
    lines = [line for line in log.splitlines() if "http_request_rejected" in line]
    assert len(lines) == len(bad_requests)
    assert all(len(line) < 300 for line in lines)
    assert not [e for e in proc.events() if e.get("level") == "error"]


def reload_with_body(port: int, body: bytes, chunked: bool = False) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if chunked:
            conn.request("POST", "/-/reload", body=iter([body]), encode_chunked=True,
                         headers={"Transfer-Encoding": "chunked"})
        else:
            conn.request("POST", "/-/reload", body=body)
        return conn.getresponse().status
    finally:
        conn.close()


def test_reload_with_a_large_body_is_refused_and_not_applied(
        running: tuple[OmniwatchProcess, Path]) -> None:
    proc, cfg = running
    cfg.write_text(CONFIG.format(name="second"))
    assert reload_with_body(proc.port, b"x" * (10 * 1024 * 1024)) == 413
    assert reload_with_body(proc.port, b"y" * 100_000, chunked=True) == 413
    s = proc.samples()
    assert ("omniwatch_probe_attempts_total",
            frozenset({("channel", "app"), ("target", "first")})) in s
    assert not [e for e in proc.events() if e.get("event") == "config_reloaded"]
    assert s[("omniwatch_http_requests_rejected_total",
              frozenset({("handler", "/-/reload"), ("code", "413")}))] == 2
    # No body (or a tiny one) is a reload as before.
    assert proc.post("/-/reload") == (200, "reloaded\n")
    wait_for(lambda: ("omniwatch_probe_attempts_total",
                      frozenset({("channel", "app"), ("target", "second")})) in proc.samples())


def test_reload_body_that_never_arrives_times_out(
        running: tuple[OmniwatchProcess, Path]) -> None:
    proc, cfg = running
    cfg.write_text(CONFIG.format(name="second"))
    with socket.create_connection(("127.0.0.1", proc.port)) as sock:
        sock.sendall(b"POST /-/reload HTTP/1.1\r\nHost: o\r\nContent-Length: 10\r\n\r\nab")
        sock.settimeout(CLOSE_WITHIN_SECONDS)
        assert sock.recv(65536).startswith(b"HTTP/1.1 408")
        assert closed_by_server(sock)
    assert not [e for e in proc.events() if e.get("event") == "config_reloaded"]
