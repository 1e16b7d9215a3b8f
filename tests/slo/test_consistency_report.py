"""The monthly report's consistency section: exact figures, every renderer, and end to end
through ``omniwatch consistency check`` then ``omniwatch report --month``."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.slo.consistency_report import ConsistencyScope, consistency_rows
from monitor.slo.exclusions import Exclusions
from monitor.slo.render import RENDERERS, report_dict
from monitor.slo.report import MonthlyReport, build_monthly_report
from tests.procs import run_omniwatch as omniwatch

NOW = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
SCOPES = [ConsistencyScope("customers", "branch", ("app", "web"), 0.99),
          ConsistencyScope("accounts", "branch", ("app",), 0.999)]


def run(dataset: str, channel: str, ratio: float | None, mode: str = "full",
        success: bool = True) -> dict[str, Any]:
    return {"dataset": dataset, "channel": channel, "mode": mode, "success": success,
            "ratio": ratio}


RUNS = [
    run("customers", "app", 0.95), run("customers", "app", 0.98, mode="checksum"),
    run("customers", "app", None, success=False),
    run("customers", "app", 0.5, mode="incremental"),  # changed rows only: not in figures
    run("customers", "app", 0.999),
    run("accounts", "app", 0.9995), run("accounts", "app", 0.9991),
    run("loans", "app", 0.1),  # a dataset no longer configured
]


def report() -> MonthlyReport:
    return build_monthly_report("2026-11", [], {}, {}, [], Exclusions(), now=NOW,
                                consistency=consistency_rows(SCOPES, RUNS))


def test_rows_per_dataset_and_channel() -> None:
    app, web, acct = consistency_rows(SCOPES, RUNS)
    assert (app.dataset, app.channel, app.runs, app.failed) == ("customers", "app", 5, 1)
    assert (app.last, app.minimum) == (0.999, 0.95)
    assert app.mean == pytest.approx((0.95 + 0.98 + 0.999) / 3)
    assert app.met is False  # a mean of 97.63%: the last run's 99.9% does not hide it
    assert (web.runs, web.mean, web.met) == (0, None, None)  # no data is never met
    assert acct.met is True
    assert acct.mean == pytest.approx(0.9993)


def test_the_report_is_not_met_when_a_dataset_misses_its_objective() -> None:
    r = report()
    assert not r.all_met
    assert r.no_data == ()  # availability's: the section says NO DATA itself


def test_every_renderer_has_the_section() -> None:
    r = report()
    table = RENDERERS["table"](r)
    assert "consistency (whole runs; runs and failed count every run):" in table
    line = next(x for x in table.splitlines() if x.startswith("accounts"))
    assert line.split() == ["accounts", "app", "branch", "99.9%", "99.910%", "99.910%",
                            "99.930%", "yes", "2", "0"]
    rows = [x for x in csv.DictReader(io.StringIO(RENDERERS["csv"](r)))
            if x["record"] == "consistency"]
    assert [(x["dataset"], x["channel"], x["met"], x["runs"], x["failed_runs"])
            for x in rows] == [("customers", "app", "NO", "5", "1"),
                               ("customers", "web", "NO DATA", "0", "0"),
                               ("accounts", "app", "yes", "2", "0")]
    assert float(rows[2]["mean_ratio"]) == pytest.approx(0.9993)
    doc = json.loads(RENDERERS["json"](r))
    assert doc["consistency"] == report_dict(r)["consistency"]
    assert doc["consistency"][1] == {
        "dataset": "customers", "channel": "web", "reference": "branch",
        "objective_ratio": 0.99, "last_ratio": None, "min_ratio": None, "mean_ratio": None,
        "met": None, "status": "no_data", "runs": 0, "failed_runs": 0}
    page = RENDERERS["html"](r)
    assert "<h2>Consistency</h2>" in page
    assert '<tr class="missed"><td>customers</td><td>app</td>' in page
    assert "Consistency" not in RENDERERS["html"](build_monthly_report(
        "2026-11", [], {}, {}, [], Exclusions(), now=NOW))


def test_report_month_reads_the_history(tmp_path: Path) -> None:
    for name, rows in (("branch", [["C001", "A1", "active"], ["C002", "A1", "active"]]),
                       ("app", [["C001", "A1", "active"], ["C002", "A1", "frozen"]])):
        with (tmp_path / f"{name}.csv").open("w", newline="") as f:
            csv.writer(f).writerows([["customer_id", "account_no", "status"], *rows])
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("""
store: {sqlite: history.db}
consistency:
  datasets:
    accounts:
      reference: branch
      key: [customer_id, account_no]
      fields: [status]
      sources:
        branch: {kind: csv, path: branch.csv}
        app: {kind: csv, path: app.csv}
""")
    assert omniwatch("consistency", "check", "-c", str(cfg)).returncode == 1
    out = omniwatch("report", "-c", str(cfg), "--month", time.strftime("%Y-%m", time.gmtime()),
                    "--format", "json")
    assert out.returncode == 1  # 50% is below the objective
    (row,) = json.loads(out.stdout)["consistency"]
    assert (row["dataset"], row["channel"], row["last_ratio"], row["runs"], row["met"]) == (
        "accounts", "app", 0.5, 1, False)
