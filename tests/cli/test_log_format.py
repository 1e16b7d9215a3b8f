"""Log levels and formats as operators see them, through real ``omniwatch`` processes:
a refused configuration is JSON under ``--log-format json`` (plain ``error:`` lines
without it), and a failed probe is logged at ``warning``."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.procs import OmniwatchProcess, http_target_server, wait_for
from tests.procs import run_omniwatch as omniwatch

BAD = ("channels:\n  app:\n    targets:\n"
       "      - {name: a, probe: http, url: 'http://x/', interval: soon}\n")




@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(BAD)
    return cfg


COMMANDS = [("run",), ("slo",), ("rules",), ("report", "--month", "2026-01"), ("probe",),
            ("consistency", "check")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_config_errors_are_json_with_log_format_json(command: tuple[str, ...],
                                                     bad_config: Path) -> None:
    out = omniwatch(*command[:1], *command[1:], "-c", str(bad_config), "--log-format", "json")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.splitlines()
    assert lines
    events = [json.loads(line) for line in lines]  # every line is JSON
    problems = [e for e in events if e["event"] == "config_error"]
    assert problems, events
    assert problems[0]["level"] == "error"
    assert problems[0]["file"] == str(bad_config)
    assert problems[0]["path"].endswith("interval")
    assert "duration" in problems[0]["problem"]


@pytest.mark.parametrize("command", COMMANDS[:2], ids=lambda c: c[0])
def test_config_errors_stay_plain_text_without_it(command: tuple[str, ...],
                                                  bad_config: Path) -> None:
    out = omniwatch(*command, "-c", str(bad_config))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {bad_config}: ")
    assert "interval" in out.stderr


def test_probe_failures_log_at_warning(tmp_path: Path) -> None:
    with http_target_server() as port:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(
            "store: {sqlite: omniwatch.db}\n"
            "defaults: {interval: 1s, timeout: 800ms}\n"
            "channels:\n  website:\n    targets:\n"
            f"      - {{name: web-down, probe: http, url: 'http://127.0.0.1:{port}/fail'}}\n")
        proc = OmniwatchProcess(cfg)
        try:
            found = wait_for(lambda: [e for e in proc.events()
                                      if e.get("event") == "probe_failed"])
        finally:
            proc.stop(signal.SIGKILL)
    assert isinstance(found, list)
    assert found[0]["level"] == "warning"
    assert (found[0]["target"], found[0]["reason"]) == ("web-down", "http_status")
