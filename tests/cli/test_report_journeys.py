"""``omniwatch report --journeys``: the month check, output and exit codes.

The config loader does not build journey targets in this branch yet, so the commands
with objectives run in-process on a built :class:`Config` (parsed arguments and the
command function, as ``main`` calls them); the checks made before any journey is
needed run the real ``omniwatch`` process.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.cli.parser import build_parser
from monitor.cli.slo import cmd_report
from monitor.config.model import Config, FlowObjective
from monitor.store.sqlite import SqliteProbeStore
from tests.procs import run_omniwatch as omniwatch
from tests.slo.flow_seed import FIXED, MONTH, NOW, PLAN, config, results


def seed(db: Path) -> None:
    store = SqliteProbeStore(str(db), clock=lambda: NOW)
    for channel, target, result in results():
        store.record(channel, target, result, excluded=False)
    store.close()


def report(cfg: Config, *argv: str) -> int:
    args = build_parser().parse_args(["report", "-c", "unused.yaml", "--journeys", *argv])
    return cmd_report(cfg, args)


@pytest.fixture
def plain_config(tmp_path: Path) -> Path:
    path = tmp_path / "omniwatch.yaml"
    path.write_text(f"store: {{sqlite: {tmp_path / 'h.db'}}}\n"
                    "channels:\n  app:\n    targets:\n"
                    "      - {name: app-api, probe: http, url: 'http://127.0.0.1:9/'}\n")
    return path


def test_a_bad_month_is_refused_as_by_the_sla_report(plain_config: Path) -> None:
    sla = omniwatch("report", "-c", str(plain_config), "--month", "2026-13")
    flow = omniwatch("report", "-c", str(plain_config), "--journeys", "--month", "2026-13")
    assert (flow.returncode, flow.stdout, flow.stderr) == (2, "", sla.stderr)
    assert sla.returncode == 2
    assert flow.stderr == "omniwatch report: '2026-13' is not a month (use YYYY-MM)\n"


def test_without_flow_targets_there_is_nothing_to_report(plain_config: Path) -> None:
    done = omniwatch("report", "-c", str(plain_config), "--journeys", "--month", MONTH)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("omniwatch report: --journeys: no journey or browser target is "
                           "configured\n")


def test_exit_1_when_an_objective_is_behind_in_its_last_week(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    seed(db)
    assert report(config(str(db)), "--month", MONTH, "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    assert [(o["target"], o["on_track"]) for o in data["objectives"]] == [
        ("web-account-opening", True), ("app-transfer", False)]


def test_exit_0_when_every_objective_with_data_is_on_track(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    seed(db)
    assert report(config(str(db), objectives=(PLAN,)), "--month", MONTH) == 0
    out = capsys.readouterr().out
    assert out.startswith("Journeys report 2026-11 (UTC)\n\nwebsite / web-account-opening  p95")
    # A month without any run judges nothing: no objective with data is behind.
    assert report(config(str(db)), "--month", "2026-10") == 0
    assert "no data" in capsys.readouterr().out


def test_without_objectives_the_flow_targets_are_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    seed(db)
    assert report(config(str(db), objectives=()), "--month", MONTH, "--format", "csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("app,app-transfer,,2026-W45,")
    assert lines[2].endswith(",10,3.000,3.000,,,,,listed,,")  # every run took 3 s


def test_exit_0_when_every_run_met_a_max_it_nearly_reaches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Interpolation inside the bin alone read p95 ~4.27 s for runs of exactly 3.9 s.
    db = tmp_path / "h.db"
    store = SqliteProbeStore(str(db), clock=lambda: NOW)
    for _, target, result in results():
        if target == "app-transfer":
            store.record("app", target, replace(result, duration_seconds=3.9),
                         excluded=False)
    store.close()
    fixed = FlowObjective("app-transfer", 95, max_seconds=4.0)
    assert report(config(str(db), objectives=(fixed,)), "--month", MONTH) == 0
    assert "  2026-W46  10    3.90s  3.90s  4.00s    yes       yes\n" in capsys.readouterr().out


def test_output_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    seed(db)
    out = tmp_path / "journeys.html"
    assert report(config(str(db), objectives=(FIXED,)), "--month", MONTH, "--format", "html",
                  "-o", str(out)) == 1
    assert capsys.readouterr().out == ""
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_the_formats_mirror_the_journeys_renderers() -> None:
    from monitor.cli.parser import REPORT_FORMATS
    from monitor.slo.flowrender import RENDERERS

    assert tuple(sorted(RENDERERS)) == REPORT_FORMATS
