"""Issue 8: every bad command-line value is one clear line on stderr and exit 2, never a
traceback; the flags are checked by the config's own rules; no data is not OK; Ctrl-C on
``probe --count`` summarises what was probed.  Everything through ``python -m monitor``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, http_target_server
from tests.procs import run_omniwatch as omniwatch
from tests.support import require

URL = "http://127.0.0.1:9/"




@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with http_target_server() as p:
        yield p


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad-input")
    (d / "ref.csv").write_text("customer_id,name,phone,id_number,risk_level\n"
                               "C1,Zhang San,13800138000,11010519491231002X,R3\n")
    (d / "app.csv").write_text((d / "ref.csv").read_text())
    cfg = d / "omniwatch.yaml"
    cfg.write_text(
        f"store: {{sqlite: {d / 'history.db'}}}\n"
        "channels:\n  app:\n    targets:\n"
        "      - {name: app-api, probe: http, url: 'http://127.0.0.1:9/'}\n"
        "consistency:\n  reference: branch\n  sources:\n"
        "    branch: {kind: csv, path: ref.csv}\n    app: {kind: csv, path: app.csv}\n")
    (d / "empty.yaml").write_text("")
    (d / "comments.yaml").write_text("# nothing here\n")
    return {"{cfg}": str(cfg), "{empty}": str(d / "empty.yaml"),
            "{comments}": str(d / "comments.yaml"), "{dir}": str(d)}


MISSING = "/nonexistent-folder"

# (argv, a substring of the one stderr line).  Every flag of every command, bad.
CASES: list[tuple[list[str], str]] = [
    # run
    (["run"], "the following arguments are required: -c/--config"),
    (["run", "-c", "{cfg}", "--listen", "localhost"], "--listen: 'localhost' is not a listen"),
    (["run", "-c", "{cfg}", "--listen", "foo:bar"], "--listen: 'foo:bar' is not a listen"),
    (["run", "-c", "{cfg}", "--listen", "127.0.0.1:99999"], "port 99999 is out of range"),
    (["run", "-c", "{empty}"], "the file is empty"),
    (["run", "-c", "{cfg}", "--log-format", "xml"], "invalid choice: 'xml'"),
    (["run", "-c", "{cfg}", "--log-level", "loud"], "invalid choice: 'loud'"),
    # probe: every ad-hoc flag, as the config would refuse it
    (["probe", URL, "--timeout", "0s"], "--timeout: '0s' must be greater than zero"),
    (["probe", URL, "--timeout", "0"], "--timeout: 0 must be greater than zero"),
    (["probe", URL, "--timeout", "soon"], "--timeout: 'soon' is not a duration"),
    (["probe", URL, "--latency", "10s"], "--latency: 10s is not shorter than the timeout 5s"),
    (["probe", URL, "--latency", "fast"], "--latency: 'fast' is not a duration"),
    (["probe", URL, "--expect-status", "999"], "--expect-status: 999 is too large"),
    (["probe", URL, "--expect-status", "ok"], "argument --expect-status: invalid int value"),
    (["probe", URL, "--confirm", "-1"], "--confirm: -1 is too small (the minimum is 0)"),
    (["probe", URL, "--confirm", "11"], "--confirm: 11 is too large (the maximum is 10)"),
    (["probe", URL, "--count", "0"], "--count must be at least 1"),
    (["probe", URL, "--count", "many"], "argument --count: invalid int value"),
    (["probe", URL, "--every", "often"], "--every: 'often' is not a duration"),
    (["probe", URL, "--body", "x", "--method", "GET"], "--body: a GET request sends no body"),
    (["probe", URL, "--body", "x", "--method", "HEAD"], "--body: a HEAD request sends no body"),
    (["probe", URL, "--expect-body", "("], "--expect-body: '(' is not a regular expression"),
    (["probe", URL, "--method", "GE T"], "--method: 'GE T' is not one of: GET, HEAD"),
    (["probe", URL, "--header", "no-colon"], "--header 'no-colon': expected 'Name: value'"),
    (["probe", URL, "--header", "Bad Name: v"], "--header: 'Bad Name' is not a valid HTTP"),
    (["probe", URL, "--expect-json", "status"], "--expect-json 'status': expected path=value"),
    (["probe", URL, "--send", "PING"], "--send: does not apply to a http probe"),
    (["probe", URL, "--ca-file", "/missing.pem"], "--ca-file: file '/missing.pem' does not"),
    (["probe", "tcp://127.0.0.1:9", "--header", "a: b"], "--header: does not apply to a tcp"),
    (["probe", "tcp://127.0.0.1:9", "--method", "POST"], "--method: does not apply to a tcp"),
    (["probe", "tcp://127.0.0.1:9", "--body", "x"], "--body: does not apply to a tcp"),
    (["probe", "tcp://127.0.0.1:9", "--expect-status", "200"], "--expect-status: does not"),
    (["probe", "tcp://127.0.0.1:9", "--expect-json", "a=1"], "--expect-json: does not apply"),
    (["probe", "tcp://127.0.0.1:9", "--no-follow"], "--no-follow: does not apply to a tcp"),
    (["probe", "tcp://127.0.0.1:9", "--insecure"], "tcp:// does not use TLS (use tcps://)"),
    (["probe", "tls://127.0.0.1:9", "--expect-body", "x"], "--expect-body: does not apply"),
    (["probe", "tls://127.0.0.1:9", "--send", "x"], "--send: does not apply to a tls probe"),
    (["probe", "tcp://127.0.0.1"], "expected tcp://host:port"),
    (["probe", "tcp://127.0.0.1:99999"], "expected tcp://host:port"),
    (["probe", "ftp://x/"], "use http(s)://"),
    (["probe", "-c", "{cfg}", "--channel", "app", "--timeout", "1s"], "only for an ad-hoc URL"),
    (["probe", "-c", "{empty}", "--channel", "app"], "the file is empty"),
    (["probe", URL, "--log-format", "xml"], "invalid choice: 'xml'"),
    # config validate
    (["config", "validate"], "give the file to check, as FILE or -c FILE"),
    (["config", "validate", "{cfg}", "-c", "{cfg}"], "give the file to check"),
    (["config", "validate", "{empty}"], "the file is empty"),
    (["config", "validate", "-c", "{comments}"], "the file is empty"),
    (["config", "frobnicate"], "invalid choice: 'frobnicate'"),
    # slo, report, rules
    (["slo"], "the following arguments are required: -c/--config"),
    (["slo", "-c", "{cfg}", "--slo", "nosuch"], "no SLO named nosuch"),
    (["report", "-c", "{cfg}", "--month", "2024-13"], "omniwatch report: "),
    (["report", "-c", "{cfg}"], "the following arguments are required: --month"),
    (["report", "-c", "{cfg}", "--month", "2024-01", "--format", "pdf"], "invalid choice"),
    (["report", "-c", "{cfg}", "--month", "2024-01", "-o", f"{MISSING}/r.html"],
     f"-o '{MISSING}/r.html': folder '{MISSING}' does not exist"),
    (["report", "-c", "{cfg}", "--month", "2024-01", "-o", "{dir}"], "is a directory"),
    (["rules", "-c", "{cfg}", "-o", f"{MISSING}/rules.yml"], f"folder '{MISSING}' does not"),
    # consistency
    (["consistency", "check", "-c", "{cfg}", "--mismatches", f"{MISSING}/m.csv"],
     f"--mismatches '{MISSING}/m.csv': folder '{MISSING}' does not exist"),
    (["consistency", "check", "-c", "{cfg}", "--mode", "fast"], "invalid choice: 'fast'"),
    (["consistency", "check", "-c", "{cfg}", "--channel", "atm"], "unknown channel 'atm'"),
    (["consistency", "history", "-c", "{cfg}", "--since", "0"], "--since: 0 must be greater"),
    (["consistency", "history", "-c", "{cfg}", "--since", "a week"], "is not a duration"),
    # demo
    (["demo", "--duration", "0"], "--duration: 0 must be greater than zero"),
    (["demo", "--duration", "0s"], "--duration: '0s' must be greater than zero"),
    (["demo", "--duration", "forever"], "--duration: 'forever' is not a duration"),
    (["demo", "--listen", "localhost"], "--listen: 'localhost' is not a listen address"),
    (["demo", "--listen", "[::1]:99999"], "port 99999 is out of range (0-65535)"),
    (["demo", "--db", f"{MISSING}/demo.db"], f"--db '{MISSING}/demo.db': folder '{MISSING}'"),
    (["nosuch"], "invalid choice: 'nosuch'"),
]


def _run_all(argvs: Sequence[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    # Real processes, a few at a time: one per case would take a minute in a row.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda argv: omniwatch(*argv), argvs))


def test_every_bad_value_of_every_command_is_one_line_and_exit_2(files: dict[str, str]
                                                                 ) -> None:
    argvs = [[files.get(a, a) for a in argv] for argv, _ in CASES]
    failures = []
    for argv, (_, expected), out in zip(argvs, CASES, _run_all(argvs), strict=True):
        lines = out.stderr.strip().splitlines()
        if (out.returncode != 2 or "Traceback" in out.stderr
                or not any(expected in line for line in lines)):
            failures.append(f"{argv}: exit {out.returncode}, stderr {out.stderr!r}")
    assert failures == []


def _commands() -> list[list[str]]:
    import argparse

    from monitor.cli.parser import build_parser

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        found.append(prefix)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_help_of_every_command_and_sub_command() -> None:
    commands = _commands()
    assert ["consistency", "history"] in commands
    assert ["config", "validate"] in commands
    for argv, out in zip(commands, _run_all([[*c, "--help"] for c in commands]), strict=True):
        assert out.returncode == 0, (argv, out.stderr)
        assert out.stdout.startswith("usage: omniwatch"), argv
        assert out.stderr == "", argv


def test_bare_numbers_are_seconds_as_in_the_config(files: dict[str, str], port: int) -> None:
    out = omniwatch("probe", f"http://127.0.0.1:{port}/ok", "--count", "2", "--every", "0",
                    "--timeout", "3", "--latency", "2.5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["targets"][0]["probes"] == 2
    history = omniwatch("consistency", "history", "-c", files["{cfg}"], "--since", "30")
    assert history.returncode == 0, history.stderr


def test_config_validate_with_c_like_every_command(files: dict[str, str]) -> None:
    out = omniwatch("config", "validate", "-c", files["{cfg}"])
    assert out.returncode == 0, out.stderr
    assert "valid (1 targets; app: 1)" in out.stdout


def test_config_validate_reports_both_layers_at_once(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        "chanels: {}\n"  # a shape problem ...
        "server: {listen: '0.0.0.0:99999'}\n"  # ... and, before, hidden: semantic ones
        "slo: {objective: 150%, timezone: Mars/Base}\n"
        "channels:\n  app:\n    targets:\n"
        "      - {name: a, probe: http, url: 'http://x/', timeout: 20s, interval: 10s,\n"
        "         expect: {body_regex: '('}}\n"
        "      - {name: a, probe: http, url: 'ftp://x/'}\n"
        "maintenance:\n  - {name: m, cron: '99 * * * *', duration: 1h}\n"
        "  - {name: n, start: '2024-13-01T00:00', end: '2024-12-01T00:00'}\n")
    out = omniwatch("config", "validate", "bad.yaml", "--json", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    paths = {p["path"] for p in json.loads(out.stdout)["problems"]}
    assert paths == {
        "(top level)", "server.listen", "slo.objective", "slo.timezone",
        "channels.app.targets[0].expect.body_regex", "channels.app.targets[0].timeout",
        "channels.app.targets[1].name", "channels.app.targets[1].url",
        "maintenance[0].cron", "maintenance[1].start",
    }


def test_no_data_is_not_ok(files: dict[str, str]) -> None:
    slo = omniwatch("slo", "-c", files["{cfg}"])
    assert slo.returncode == 1, slo.stderr
    header, row = slo.stdout.splitlines()[:2]
    status = header.index("STATUS")
    assert row[status:].split()[:2] == ["NO", "DATA"]
    doc = json.loads(omniwatch("slo", "-c", files["{cfg}"], "--json").stdout)
    assert [s["status"] for s in doc["slos"]] == ["no_data"]
    assert doc["slos"][0]["availability"]["status"] == "no_data"
    report = omniwatch("report", "-c", files["{cfg}"], "--month", "2024-01")
    assert report.returncode == 1
    assert "NO DATA" in report.stdout
    as_json = omniwatch("report", "-c", files["{cfg}"], "--month", "2024-01", "--format",
                        "json")
    assert as_json.returncode == 1
    rdoc = json.loads(as_json.stdout)
    assert rdoc["no_data"] == ["app", "app/app-api"]
    assert rdoc["channels"][0]["status"] == "no_data"


def test_a_port_in_use_is_exit_2_for_run_and_demo(files: dict[str, str],
                                                  tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        run = omniwatch("run", "-c", files["{cfg}"], "--listen", address)
        demo = omniwatch("demo", "--listen", address, "--db", str(tmp_path / "d.db"))
    assert (run.returncode, demo.returncode) == (2, 2), (run.stderr, demo.stderr)
    assert "listen_failed" in run.stderr
    assert "cannot listen on http://" in demo.stderr
    assert "Traceback" not in run.stderr + demo.stderr


def test_demo_db_that_is_no_sqlite_history_is_one_line_and_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("not a database\n")
    demo = omniwatch("demo", "--listen", "127.0.0.1:0", "--db", str(junk), "--duration", "5s")
    assert demo.returncode == 2, demo.stderr
    assert "Traceback" not in demo.stderr
    (line,) = demo.stderr.strip().splitlines()
    assert line.startswith(f"omniwatch demo: --db: cannot open the SQLite history store {junk}")
    assert junk.read_text() == "not a database\n"  # left as it was


def test_ipv6_listen_address_is_printed_in_brackets(files: dict[str, str]) -> None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        require(False, "IPv6 loopback ::1")
    proc = OmniwatchProcess(Path(files["{cfg}"]), ("--listen", "[::1]:0"))
    try:
        (url,) = [e["url"] for e in proc.events() if e.get("event") == "listening"]
        assert str(url).startswith("http://[::1]:")
        assert str(url).endswith("/metrics")
    finally:
        assert proc.stop() == 0


def test_probe_count_ctrl_c_prints_the_summary_so_far_and_exits_130(port: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "probe", f"http://127.0.0.1:{port}/ok",
         "--count", "1000", "--every", "100ms", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    time.sleep(2.0)  # a few probes, far from 1000
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    doc = json.loads(stdout)
    (row,) = doc["targets"]
    assert doc["interrupted"] is True
    assert 1 <= row["probes"] < 1000
    assert row["succeeded"] == row["probes"]
    assert f"interrupted after {row['probes']} of 1000 probes" in stderr
