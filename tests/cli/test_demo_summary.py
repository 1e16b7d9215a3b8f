"""``omniwatch demo``'s closing "SLOs over this run" covers this run only, while the
``--db`` file keeps the history of every run (real demo processes, a real SQLite file)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from monitor.demo.run import run_rows
from monitor.slo.bindings import SloBinding
from monitor.slo.budget import Counts, SloSpec


def demo(tmp_path: Path, db: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--duration", "6s", "--listen",
         "127.0.0.1:0", "--db", str(db)], capture_output=True, text=True, timeout=60,
        cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return out.stdout


def closing_table(stdout: str) -> dict[str, list[str]]:
    lines = stdout.split("SLOs over this run", 1)[1].splitlines()[1:]
    rows = {}
    for line in lines:
        cells = line.split()
        if cells and cells[0] not in ("SLO", "omniwatch"):
            rows[cells[0]] = cells
    return rows


def stored_probes(db: Path, channel: str) -> int:
    with sqlite3.connect(db) as conn:
        (total,) = conn.execute("SELECT SUM(total) FROM channel_minute WHERE channel = ?",
                                (channel,)).fetchone()
    return int(total or 0)


def test_second_run_reports_only_itself_and_history_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    first = closing_table(demo(tmp_path, db))
    after_first = stored_probes(db, "app")
    second = closing_table(demo(tmp_path, db))
    after_second = stored_probes(db, "app")
    first_probes, second_probes = int(first["app"][2]), int(second["app"][2])
    assert first_probes >= 1
    assert second_probes >= 1
    # History accumulates in the file; the closing table counts this run alone.
    assert after_first == first_probes
    assert after_second == first_probes + second_probes
    assert set(first) == set(second) >= {"app", "app-latency", "website", "branch"}


def test_run_rows_without_probes_say_no_data() -> None:
    spec = SloSpec(name="app", objective=0.999, period="30d", latency_objective=0.95)
    binding = SloBinding(spec, "channel", "app", "app")
    rows = run_rows([binding], {"app": Counts(good=9, total=10, degraded=1)})
    assert rows[1] == ["app", "99.900%", "10", "90.000%", "100.00x", "MISSED"]
    assert rows[2] == ["app-latency", "95.000%", "10", "80.000%", "4.00x", "MISSED"]
    (empty,) = run_rows([SloBinding(SloSpec(name="web", objective=0.99, period="30d"),
                                    "channel", "web", "web")], {})[1:]
    assert empty == ["web", "99.000%", "0", "n/a", "n/a", "NO DATA"]
