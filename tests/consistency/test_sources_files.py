"""CSV, JSON Lines and SQLite sources against the shared dataset, through run_check."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from monitor.config.consistency import build_consistency
from monitor.consistency.model import ConsistencyReport, Outcome
from monitor.consistency.report import report_to_dict
from monitor.consistency.run import run_check
from tests.consistency import dataset as ds
from tests.consistency.conftest import write_csv, write_jsonl, write_sqlite


def check(tmp_path: Path, channel: dict[str, Any], **extra: Any) -> ConsistencyReport:
    ref = write_csv(tmp_path / "branch.csv", ds.reference(), ds.COLUMNS)
    cfg = build_consistency(ds.section({
        "branch": {"kind": "csv", "path": str(ref), "updated_at": "updated_at"},
        "app": channel,
    }, **extra), "test.yaml", tmp_path)
    (report,) = run_check(cfg, now=ds.NOW)
    return report


def assert_dataset(report: ConsistencyReport) -> None:
    assert report.error is None, report.error
    assert dict(report.counts) == ds.EXPECTED
    assert dict(report.field_mismatches) == ds.EXPECTED_FIELDS
    assert dict(report.rows_read) == {"branch": ds.REFERENCE_ROWS, "app": ds.CHANNEL_ROWS}
    assert report.ratio == 12 / 22
    assert not report.meets_objective


def test_csv(tmp_path: Path) -> None:
    rows = [{"cust_no": r.pop("customer_id"), **r} for r in ds.channel()]
    write_csv(tmp_path / "app.csv", rows, ["cust_no", *ds.FIELDS, "updated_at"])
    report = check(tmp_path, {"kind": "csv", "path": "app.csv", "updated_at": "updated_at",
                              "columns": {"customer_id": "cust_no"}})
    assert_dataset(report)
    text = repr(report_to_dict(report))
    for clear in ("13900000001", "Zhao Qi", "12345", "Zhang Er"):
        assert clear not in text


def test_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "app.jsonl", ds.channel())
    assert_dataset(check(tmp_path, {"kind": "jsonl", "path": str(path),
                                    "updated_at": "updated_at"}))


def test_sqlite(tmp_path: Path) -> None:
    path = write_sqlite(tmp_path / "app.db", "customer", ds.channel(), ds.COLUMNS)
    assert_dataset(check(tmp_path, {"kind": "sqlite", "path": str(path), "table": "customer",
                                    "updated_at": "updated_at"}))


def test_sqlite_query_with_integer_keys(tmp_path: Path) -> None:
    # Integer keys sort as text everywhere (9 after 10), so every source agrees on order.
    conn = sqlite3.connect(tmp_path / "n.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, nm TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"n{i}") for i in range(1, 13)])
    conn.commit()
    conn.close()
    cfg = build_consistency({
        "reference": "a", "fields": ["name"], "sources": {
            "a": {"kind": "sqlite", "path": "n.db",
                  "query": "SELECT id, nm FROM t WHERE id % 2 = 0 OR id < 100",
                  "columns": {"customer_id": "id", "name": "nm"}},
            "b": {"kind": "sqlite", "path": "n.db", "table": "t",
                  "columns": {"customer_id": "id", "name": "nm"}}}}, "t.yaml", tmp_path)
    (report,) = run_check(cfg, now=ds.NOW)
    assert report.error is None
    assert report.counts[Outcome.MATCH] == 12


def test_unsorted_file_fails_loudly(tmp_path: Path) -> None:
    write_csv(tmp_path / "app.csv", list(reversed(ds.channel())), ds.COLUMNS)
    report = check(tmp_path, {"kind": "csv", "path": "app.csv"})
    assert report.error is not None
    assert report.error.startswith("source 'app': order: ")
    assert report.ratio is None
    assert not report.meets_objective


def test_csv_without_a_mapped_column_fails(tmp_path: Path) -> None:
    write_csv(tmp_path / "app.csv", ds.channel(), ["customer_id", "name"])
    report = check(tmp_path, {"kind": "csv", "path": "app.csv"})
    assert report.error == ("source 'app': garbage: header has no column 'phone', "
                            "'id_number', 'email', 'birth_date', 'risk_level', 'balance'")


def test_jsonl_garbage_lines_are_invalid_records(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "app.jsonl", ds.reference())
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3:3] = [b'{"customer_id": "C0035", "name": {"first": "x"}}\n',  # after C003
                  b"{not json\n", b"[1, 2]\n"]
    path.write_bytes(b"".join(lines))
    report = check(tmp_path, {"kind": "jsonl", "path": str(path)})
    assert report.error is None
    assert report.counts[Outcome.INVALID] == 2 + 1  # two unkeyed lines + C0035
    assert report.counts[Outcome.MATCH] == ds.REFERENCE_ROWS
    reasons = {s.reason for s in report.samples}
    assert "name: not text or a number" in reasons


def test_missing_file_fails(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "app.csv", ds.channel(), ds.COLUMNS)
    cfg = build_consistency(ds.section({
        "branch": {"kind": "csv", "path": str(path)}, "app": {"kind": "csv", "path": str(path)},
    }))
    path.unlink()
    reports = run_check(cfg, now=ds.NOW)
    assert reports[0].error is not None
    assert "connect" in reports[0].error


def test_hash_fields_in_files(tmp_path: Path) -> None:
    write_csv(tmp_path / "app.csv", ds.channel(), ds.COLUMNS)
    report = check(tmp_path, {"kind": "csv", "path": "app.csv", "updated_at": "updated_at"},
                   hash_fields=["phone", "id_number"], hash_salt="pepper-123")
    # A digest cannot fail the phone or ID pattern: C020's 'abc' and C024's '12345' now
    # read as mismatches instead of invalid records.
    assert report.counts[Outcome.MISMATCH] == 3 + 2
    assert report.counts[Outcome.INVALID] == 4 - 2
    assert report.counts[Outcome.MATCH] == 12
    for s in report.samples:
        for d in s.diffs:
            if d.field in ("phone", "id_number"):
                assert d.reference is not None
                assert d.reference.endswith("…")
