"""``/metrics``: one rendering for concurrent scrapes, gzip when asked, a valid body."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.runtime.scheduler import phase_offset, slot_time
from monitor.server.scrape import WRITE_SLICE_BYTES, SharedRendering, accepts_gzip
from tests.procs import OmniwatchProcess
from tests.support import require


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True),
    ("gzip, deflate, br", True),
    ("deflate, GZIP;q=0.5", True),
    ("x-gzip", True),
    ("gzip;q=0", False),
    ("gzip; q=0.0", False),
    ("identity", False),
    ("", False),
    ("gzipped", False),
    ("gzip;q=nonsense", False),
])
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


async def test_scrapes_during_a_rendering_share_it() -> None:
    release = asyncio.Event()
    made = 0

    async def render() -> bytes:
        nonlocal made
        made += 1
        await release.wait()
        return f"body {made}\n".encode()

    shared = SharedRendering(render)
    waiters = [asyncio.create_task(shared.get()) for _ in range(50)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # a scraper that leaves does not cancel the others' rendering
    release.set()
    results = await asyncio.gather(*waiters[1:])
    assert {r.plain for r in results} == {b"body 1\n"}
    assert len({id(r) for r in results}) == 1
    gzipped = await asyncio.gather(*(r.gzipped() for r in results))
    assert len({id(g) for g in gzipped}) == 1  # compressed once for all of them
    assert gzip.decompress(gzipped[0]) == b"body 1\n"
    # Once made, the next scrape gets a fresh rendering: shared, not cached.
    assert (await shared.get()).plain == b"body 2\n"
    assert shared.renders == 2


async def test_a_failed_rendering_fails_its_scrapes_and_not_the_next() -> None:
    calls = 0

    async def render() -> bytes:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store down")
        return b"ok\n"

    shared = SharedRendering(render)
    with pytest.raises(RuntimeError):
        await shared.get()
    assert (await shared.get()).plain == b"ok\n"


TARGETS = 300
CONFIG_HEAD = """\
store: {sqlite: omniwatch.db, flush_interval: 1d}
channels:
  app:
    targets:
"""


DAY = 86400.0


def quiet_names(count: int, within: float = 600.0) -> list[str]:
    """Target names whose daily slot is not in the next ``within`` seconds.

    Slots are anchored on the epoch, so with 300 targets at 1d some target fires in any
    ten-second window of a day about 3% of the time; skipping those names keeps every
    rendering of the test identical.
    """
    now = time.time()
    names: list[str] = []
    i = 0
    while len(names) < count:
        name = f"t{i:04d}"
        i += 1
        anchor = phase_offset(name, DAY)
        if slot_time(now, anchor, DAY) + DAY - now > within:
            names.append(name)
    return names


@pytest.fixture
def running(tmp_path: Path) -> Iterator[OmniwatchProcess]:
    cfg = tmp_path / "omniwatch.yaml"
    # interval 1d and no slot soon: nothing is probed during the test, so every rendering
    # is the same.
    cfg.write_text(CONFIG_HEAD + "".join(
        f"      - {{name: {name}, probe: tcp, host: 127.0.0.1, port: 9, interval: 1d}}\n"
        for name in quiet_names(TARGETS)))
    proc = OmniwatchProcess(cfg)
    try:
        yield proc
    finally:
        proc.stop(signal.SIGKILL)


def scrape(port: int, use_gzip: bool) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"} if use_gzip else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def comparable(text: str) -> str:
    # process_* samples (CPU, memory) and the last alert evaluation's duration (a tick
    # every few seconds, so a slow burst of scrapes can straddle one) move between
    # renderings; everything else here is fixed while nothing is probed.
    moving = ("process_", "omniwatch_alert_evaluation_seconds")
    return "\n".join(line for line in text.splitlines()
                     if not line.removeprefix("# HELP ").removeprefix("# TYPE ")
                     .startswith(moving))


def test_concurrent_scrapes_get_complete_identical_bodies(running: OmniwatchProcess) -> None:
    results: list[tuple[bool, tuple[int, dict[str, str], bytes]]] = []
    lock = threading.Lock()

    def one(use_gzip: bool) -> None:
        got = scrape(running.port, use_gzip)
        with lock:
            results.append((use_gzip, got))

    threads = [threading.Thread(target=one, args=(i % 2 == 0,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40
    texts = set()
    for use_gzip, (status, headers, body) in results:
        assert status == 200
        assert headers["vary"] == "Accept-Encoding"
        assert headers["content-length"] == str(len(body))
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        if use_gzip:
            assert headers["content-encoding"] == "gzip"
            body = gzip.decompress(body)
        else:
            assert "content-encoding" not in headers
        text = body.decode()
        assert len(body) > 2 * WRITE_SLICE_BYTES  # written in several slices
        assert text.endswith("\n")
        texts.add(comparable(text))
    assert len(texts) == 1
    text = texts.pop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    attempts = families["omniwatch_probe_attempts"].samples
    assert len(attempts) == TARGETS


def test_metrics_body_passes_promtool(running: OmniwatchProcess) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    assert promtool is not None
    status, _, body = scrape(running.port, use_gzip=True)
    assert status == 200
    check = subprocess.run([promtool, "check", "metrics"], input=gzip.decompress(body),
                           capture_output=True, timeout=60, check=False)
    # Naming lint hints (e.g. the deprecated *_minutes family) also make promtool exit
    # non-zero; what matters here is that it parses the whole body.
    assert b"error while linting" not in check.stdout + check.stderr, check.stderr


def test_scrapers_that_leave_mid_body_cost_no_error(running: OmniwatchProcess) -> None:
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", running.port))
        # RST on close, as a scraper that timed out would leave
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: o\r\n"
                     + (b"Accept-Encoding: gzip\r\n" if i % 2 else b"") + b"\r\n")
        sock.recv(1)
        sock.close()
    status, _, body = scrape(running.port, use_gzip=False)
    assert status == 200
    assert body.endswith(b"\n")
    log = running.log_path.read_text()
    assert "Traceback" not in log
    assert not [e for e in running.events() if e.get("level") == "error"]
