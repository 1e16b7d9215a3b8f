"""Issue 8: hostile files, failed checks that stay failed, and consistency messages that
help, through ``omniwatch consistency`` as a real process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_consistency import _write, omniwatch

CONFIG = """
store: {sqlite: history.db}
channels: {app: {targets: []}}
consistency:
  reference: branch
  key: customer_id
  fields: [name]
  sources:
    branch: {kind: csv, path: ref.csv}
    app: {kind: csv, path: app.csv}
"""


def _hostile(tmp_path: Path) -> Path:
    (tmp_path / "ref.csv").write_bytes(
        b"customer_id,name\nC001,Zhang\nC002,Li\nC003,Wang\nC004,Zhao\n")
    # C002 has too few fields, C003 too many, and one key holds a byte that is not UTF-8.
    (tmp_path / "app.csv").write_bytes(
        b"customer_id,name\nC001,Zhang\nC002\nC003,Wang,extra\nC0\xff5,Qian\n")
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG)
    return cfg


def test_short_and_long_rows_count_once_and_broken_keys_are_escaped(tmp_path: Path) -> None:
    cfg = _hostile(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--json",
                    "--mismatches", str(tmp_path / "out.csv"))
    assert out.returncode == 1, out.stderr
    (report,) = json.loads(out.stdout)["reports"]
    # One outcome per row: C002 and C003 are invalid only (not also missing); C004 is
    # missing; the broken key is invalid.
    assert report["counts"]["match"] == 1
    assert report["counts"]["invalid"] == 3
    assert report["counts"]["missing"] == 1
    assert report["counts"]["extra"] == 0
    assert report["judged"] == 5
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["key"]: r for r in csv.DictReader(f)}
    assert rows["C002"]["outcome"] == "invalid"
    assert "the row has 1 fields, the header 2" in rows["C002"]["reason"]
    assert "the row has 3 fields, the header 2" in rows["C003"]["reason"]
    assert rows["C004"]["outcome"] == "missing"
    assert rows["C0\\udcff5"]["outcome"] == "invalid"


def test_text_report_survives_a_strict_ascii_stdout(tmp_path: Path) -> None:
    cfg = _hostile(tmp_path)
    out = subprocess.run([sys.executable, "-m", "monitor", "consistency", "check", "-c",
                          str(cfg), "--mismatches", str(tmp_path / "out.csv")],
                         capture_output=True, timeout=120,
                         env={**os.environ, "PYTHONIOENCODING": "ascii:strict"})
    assert out.returncode == 1, out.stderr
    assert b"Traceback" not in out.stderr
    assert b"C0\\udcff5" in out.stdout
    assert b"INVALID" in out.stdout


@pytest.mark.parametrize("mode", ["full", "sample"])
def test_a_failed_check_shows_no_ratio_interval_or_counts(tmp_path: Path, mode: str) -> None:
    cfg = _write(tmp_path, broken_source=True)
    table = omniwatch("consistency", "check", "-c", str(cfg), "--mode", mode)
    as_json = omniwatch("consistency", "check", "-c", str(cfg), "--mode", mode, "--json")
    assert table.returncode == 1
    assert as_json.returncode == 1
    line = next(x for x in table.stdout.splitlines() if x.startswith("app "))
    assert "FAILED" in line
    assert "n/a" in line
    assert "[" not in line  # no confidence interval from a failed run
    assert line.split()[4:-1] == ["-"] * 7  # no outcome counts
    reports = {r["channel"]: r for r in json.loads(as_json.stdout)["reports"]}
    app = reports["app"]
    assert app["success"] is False
    assert app["error"].startswith("source 'app': connect: ")
    for key in ("ratio", "interval95", "judged", "counts", "field_mismatches"):
        assert app[key] is None, key
    assert app["samples"] == []
    assert reports["website"]["counts"]["match"] == 2  # the healthy channel still counts
    history = json.loads(omniwatch("consistency", "history", "-c", str(cfg), "--json").stdout)
    failed = [r for r in history["runs"] if r["channel"] == "app"]
    assert failed
    for r in failed:
        assert r["success"] is False
        assert r["ratio"] is None
        assert r["judged"] is None
        assert r["counts"] is None
    text = omniwatch("consistency", "history", "-c", str(cfg)).stdout
    app_rows = [x.split() for x in text.splitlines() if " app " in x]
    assert app_rows
    assert all(row[-3:] == ["n/a", "-", "FAILED"] for row in app_rows)


def test_checking_the_reference_says_it_is_the_reference(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--channel", "branch")
    assert out.returncode == 2
    assert "'branch' is the reference" in out.stderr
    assert "website" in out.stderr
    assert "Traceback" not in out.stderr


def test_samples_are_printed_under_their_own_channel(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    (tmp_path / "app.csv").write_text((tmp_path / "web.csv").read_text())
    cfg.write_text(cfg.read_text().replace("app: {kind: csv, path: web.csv}",
                                           "app: {kind: csv, path: app.csv}"))
    out = omniwatch("consistency", "check", "-c", str(cfg))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    heads = [i for i, x in enumerate(lines) if x.endswith("example keys (values masked):")]
    assert sorted(lines[i].split(":")[0] for i in heads) == ["app", "website"]
    # Each channel's examples follow its own heading: C003 (phone) is in both.
    for i in heads:
        block = lines[i + 1:i + 5]
        assert any(x.strip().startswith("C003  mismatch") for x in block), block
