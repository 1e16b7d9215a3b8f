"""Migration 5: consistency runs carry their dataset, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from monitor.store import schema
from monitor.store.sqlite import SqliteProbeStore
from tests.stores import StoreFactory

NOW = 1_764_000_000.0


def run(at: float, channel: str = "app", **kw: Any) -> dict[str, Any]:
    return {"started_at_ts": at, "reference": "branch", "channel": channel, "mode": "full",
            "success": True, "ratio": 0.5, "objective": 0.99, "judged": 2,
            "counts": {"match": 1, "mismatch": 1}, "field_mismatches": {"name": 1},
            "duration_seconds": 0.1, "error": None, **kw}


def test_runs_keep_their_dataset(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.record_consistency(run(NOW - 30))  # a writer from before datasets
    store.record_consistency(run(NOW - 20, dataset="accounts"))
    store.record_consistency(run(NOW - 10, dataset="customers"))
    got = store.consistency_history(NOW - 60)
    assert [(r["dataset"], r["started_at"]) for r in got] == [
        ("customers", NOW - 30), ("accounts", NOW - 20), ("customers", NOW - 10)]
    assert [r["started_at"] for r in store.consistency_history(
        NOW - 60, datasets=["accounts"])] == [NOW - 20]
    assert [r["started_at"] for r in store.consistency_history(
        NOW - 60, until=NOW - 15)] == [NOW - 30, NOW - 20]
    store.close()


def test_migration_5_upgrades_a_version_4_file(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(schema.VERSION_TABLE)
    for version in (1, 2, 3, 4):
        for statement in schema.statements(version, "sqlite"):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
    conn.execute("INSERT INTO consistency_runs VALUES (?, 'branch', 'app', 'full', 1, 1.0, "
                 "0.99, 3, '{}', '{}', 0.1, NULL)", (NOW - 5,))
    conn.close()
    store = SqliteProbeStore(str(path), clock=lambda: NOW)
    assert store.schema_version() == schema.LATEST_VERSION >= 5
    (old,) = store.consistency_history(0)
    assert old["dataset"] == "customers"  # the one dataset a section then had
    store.close()
