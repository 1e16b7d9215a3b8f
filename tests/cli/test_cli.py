"""The ``omniwatch`` command line as on-call uses it: exit codes, table, JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import http_target_server
from tests.procs import run_omniwatch as omniwatch


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with http_target_server() as p:
        yield p


@pytest.fixture
def config(tmp_path: Path, port: int) -> Path:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(
        "channels:\n"
        "  app:\n    targets:\n"
        f"      - {{name: app-ok, probe: http, url: 'http://127.0.0.1:{port}/ok',"
        " expect: {json: {status: UP}}}\n"
        "  website:\n    targets:\n"
        f"      - {{name: web-down, probe: http, url: 'http://127.0.0.1:{port}/fail'}}\n")
    return cfg


def test_probe_channel_table_exit_0(config: Path) -> None:
    out = omniwatch("probe", "-c", str(config), "--channel", "app")
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()[:2]
    assert header.split()[:5] == ["CHANNEL", "TARGET", "RESULT", "REASON", "STATUS"]
    assert row.split()[:4] == ["app", "app-ok", "success", "200"]


def test_probe_failure_exit_1_and_json(config: Path) -> None:
    out = omniwatch("probe", "-c", str(config), "--target", "web-down", "--json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    (row,) = doc["targets"]
    assert row["target"] == "web-down"
    assert row["reason"] == "http_status"
    assert row["status_code"] == 503
    assert out.stderr == ""


def test_probe_count_summarises(port: int) -> None:
    out = omniwatch("probe", f"http://127.0.0.1:{port}/ok", "--count", "4", "--every", "10ms",
                    "--expect-json", "status=UP", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)["targets"]
    assert row["probes"] == 4
    assert row["success_ratio"] == 1.0
    assert row["latency_p50_seconds"] <= row["latency_p95_seconds"]
    table = omniwatch("probe", f"http://127.0.0.1:{port}/ok", "--count", "3", "--every", "0s")
    assert "OK" in table.stdout.splitlines()[0]
    assert "3/3" in table.stdout


def test_probe_adhoc_tcp_refused_exit_1() -> None:
    out = omniwatch("probe", "tcp://127.0.0.1:1", "--timeout", "1s")
    assert out.returncode == 1
    assert "connect_refused" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["probe"], "give a URL"),
     (["probe", "ftp://x/"], "use http(s)://"),
     (["probe", "--target", "nope", "-c", "{cfg}"], "unknown target 'nope'"),
     (["probe", "--channel", "atm", "-c", "{cfg}"], "unknown channel 'atm'"),
     (["probe", "http://x/", "--count", "0"], "--count must be at least 1"),
     (["probe", "-c", "/nonexistent.yaml", "--channel", "app"], "cannot read")],
)
def test_usage_errors_exit_2(config: Path, args: list[str], message: str) -> None:
    out = omniwatch(*[a.replace("{cfg}", str(config)) for a in args])
    assert out.returncode == 2
    assert message in out.stderr


def test_config_validate(config: Path, tmp_path: Path) -> None:
    ok = omniwatch("config", "validate", str(config))
    assert ok.returncode == 0
    assert "valid (2 targets; app: 1, website: 1)" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("chanels: {}\nslo: {objective: high}\n")
    out = omniwatch("config", "validate", "bad.yaml", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("error: bad.yaml: ") for line in lines)
    doc = json.loads(omniwatch("config", "validate", "bad.yaml", "--json", cwd=tmp_path).stdout)
    assert doc["valid"] is False
    assert {p["path"] for p in doc["problems"]} == {"(top level)", "slo.objective"}


def test_help_on_every_command() -> None:
    for args in (["--help"], ["run", "--help"], ["probe", "--help"], ["config", "--help"],
                 ["config", "validate", "--help"], ["demo", "--help"]):
        out = omniwatch(*args)
        assert out.returncode == 0
        assert "usage: omniwatch" in out.stdout


def test_demo_runs_and_stops(tmp_path: Path) -> None:
    out = omniwatch("demo", "--duration", "6s", "--listen", "127.0.0.1:0", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^  metrics +http://127\.0\.0\.1:\d+/metrics$", out.stdout, re.M)
    assert "check    customers app vs branch: 97.990% BELOW 99.000%" in out.stdout
    assert re.search(r"^app +99\.900% +\d+ +100\.000% +0\.00x +MET$", out.stdout, re.M)
    assert "omniwatch demo: stopped" in out.stdout


def test_a_reader_that_leaves_early_gets_no_traceback(config: Path) -> None:
    # `omniwatch probe --json | head -1`: the pipe's read end is closed before we write.
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "monitor", "probe", "-c", str(config), "--json"],
            stdout=write, stderr=subprocess.PIPE, timeout=60, check=False)
    finally:
        os.close(write)
    assert out.returncode == 141
    assert b"Traceback" not in out.stderr
