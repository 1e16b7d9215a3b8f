# ruff: noqa: RUF001  (full-width characters are the test data)
"""Issue 4 end to end: ``omniwatch consistency check`` and scheduled checks in ``run``."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from tests.procs import OmniwatchProcess, wait_for
from tests.procs import run_omniwatch as omniwatch

FIELDS = ["customer_id", "name", "phone", "id_number", "risk_level"]
REFERENCE = [
    ("C001", "Zhang San", "13800138000", "11010519491231002X", "R3"),
    ("C002", "Li Si", "13900000001", "110105194912310021", "R2"),
    ("C003", "Wang Wu", "13700000002", "110105194912310048", "R1"),
    ("C004", "Zhao Liu", "13600000003", "11010519491231005X", "R4"),
]
# Same people as the website sees them: +86, spaces, a lower-case check letter, "3" for
# R3 and a full-width name all normalise equal; C003's phone really differs; C004 is
# missing; C005 is extra.
WEBSITE = [
    ("C001", "Ｚｈａｎｇ San", "+86 138-0013-8000", "11010519491231002x", "3"),
    ("C002", " Li  Si ", "13900000001", "110105194912310021", "2"),
    ("C003", "Wang Wu", "13700009999", "110105194912310048", "1"),
    ("C005", "Qian Qi", "13500000004", "110105194912310064", "5"),
]


def _write(tmp_path: Path, *, broken_source: bool = False, interval: str = "1h") -> Path:
    ref = tmp_path / "branch.db"
    with sqlite3.connect(ref) as db:
        db.execute(f"CREATE TABLE customers ({', '.join(f + ' TEXT' for f in FIELDS)})")
        db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", REFERENCE)
    with (tmp_path / "web.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(WEBSITE)
    app = ("{kind: postgres, dsn: 'postgresql://ow:s3cret@127.0.0.1:1/none', table: customers}"
           if broken_source else "{kind: csv, path: web.csv}")
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(f"""
store: {{sqlite: history.db, flush_interval: 1s}}
channels: {{app: {{targets: []}}}}
consistency:
  objective: 99%
  reference: branch
  key: customer_id
  fields: [name, phone, id_number, risk_level]
  schedule: {{interval: {interval}}}
  sources:
    branch: {{kind: sqlite, path: branch.db, table: customers}}
    website: {{kind: csv, path: web.csv}}
    app: {app}
""")
    return cfg




def test_check_reports_exact_outcomes_masked(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--channel", "website", "--json",
                    "--mismatches", str(tmp_path / "mismatches.csv"))
    assert out.returncode == 1  # 2 of 5 judged keys match: far under 99%
    (report,) = json.loads(out.stdout)["reports"]
    assert report["success"] is True
    assert report["counts"]["match"] == 2
    assert report["counts"]["mismatch"] == 1
    assert report["counts"]["missing"] == 1
    assert report["counts"]["extra"] == 1
    assert report["judged"] == 5
    assert report["ratio"] == 2 / 5
    assert report["field_mismatches"] == {"phone": 1}
    # Customer data never leaves in clear: not in stdout, not in the CSV.
    written = (tmp_path / "mismatches.csv").read_text()
    for clear in ("13700009999", "13700000002", "Wang Wu"):
        assert clear not in out.stdout
        assert clear not in written
    assert "C003" in written


def test_failed_source_is_failed_not_a_ratio(tmp_path: Path) -> None:
    cfg = _write(tmp_path, broken_source=True)
    out = omniwatch("consistency", "check", "-c", str(cfg))
    assert out.returncode == 1
    line = next(x for x in out.stdout.splitlines() if x.startswith("app "))
    assert "FAILED" in line
    assert "n/a" in line
    assert "app: check failed:" in out.stdout
    assert "s3cret" not in out.stdout + out.stderr
    website = next(x for x in out.stdout.splitlines() if x.startswith("website "))
    assert "40.000%" in website
    history = json.loads(omniwatch("consistency", "history", "-c", str(cfg), "--json").stdout)
    by_channel = {r["channel"]: r for r in history["runs"]}
    assert by_channel["app"]["success"] is False
    assert by_channel["app"]["ratio"] is None
    assert by_channel["website"]["ratio"] == 0.4


def test_usage_errors(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--channel", "atm")
    assert out.returncode == 2
    assert "unknown channel 'atm'" in out.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text("channels: {}\n")
    assert omniwatch("consistency", "check", "-c", str(bare)).returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("consistency: {reference: branch, key: id, fields: [name], sources: {}}\n")
    out = omniwatch("consistency", "check", "-c", str(bad))
    assert out.returncode == 2
    assert "bad.yaml: consistency" in out.stderr


def test_scheduled_checks_export_metrics(tmp_path: Path) -> None:
    cfg = _write(tmp_path, broken_source=True, interval="1s")
    proc = OmniwatchProcess(cfg)
    try:
        def website_ratio() -> float | None:
            return proc.samples().get(("omniwatch_consistency_ratio", frozenset(
                {("dataset", "customers"), ("reference", "branch"), ("channel", "website"),
                 ("mode", "full")})))
        assert wait_for(website_ratio, timeout=30) == 0.4
        s = proc.samples()
        web = {("dataset", "customers"), ("reference", "branch"), ("channel", "website")}
        app = {("dataset", "customers"), ("reference", "branch"), ("channel", "app")}
        assert s[("omniwatch_consistency_check_success", frozenset(web))] == 1
        assert s[("omniwatch_consistency_records", frozenset(
            {*web, ("outcome", "extra")}))] == 1
        assert s[("omniwatch_consistency_field_mismatches", frozenset(
            {*web, ("field", "phone")}))] == 1
        assert s[("omniwatch_consistency_check_success", frozenset(app))] == 0
        app_ratio = s[("omniwatch_consistency_ratio", frozenset({*app, ("mode", "full")}))]
        assert app_ratio != app_ratio  # NaN: a dead source is neither 0% nor 100%
        assert not any(k[0] == "omniwatch_consistency_records" and ("channel", "app") in k[1]
                       for k in s)
        events = [e for e in proc.events() if e.get("event") == "consistency_check_failed"]
        assert events
        assert all("s3cret" not in json.dumps(e) for e in proc.events())
    finally:
        proc.stop()
