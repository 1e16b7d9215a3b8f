"""Flow-time histograms in the store (migration 4), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.slo.flowtime import FLOW_BINS, FlowHistogram, flow_bin
from monitor.store import schema
from monitor.store.buckets import FLOW_COLUMNS
from monitor.store.sqlite import SqliteProbeStore
from probes.result import ProbeResult, StepResult
from tests.stores import StoreFactory

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600
STEPS = (StepResult("login", True, "ok", 0.1), StepResult("balance", True, "ok", 0.2))


def run(t: float, duration: float, success: bool = True) -> ProbeResult:
    """A journey's result: it has steps."""
    return ProbeResult(success, "ok" if success else "status", duration, started_at=t,
                       steps=STEPS)


def plain(t: float, duration: float) -> ProbeResult:
    return ProbeResult(True, "ok", duration, started_at=t)


def bins_of(*durations: float) -> dict[int, int]:
    out: dict[int, int] = {}
    for d in durations:
        out[flow_bin(d)] = out.get(flow_bin(d), 0) + 1
    return out


def test_only_successful_counted_flow_runs_are_kept_per_hour(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    hour = int(NOW) - 2 * HOUR
    store.record("app", "transfer", run(hour + 10, 2.0), excluded=False)
    store.record("app", "transfer", run(hour + 70, 3.5), excluded=False)
    store.record("app", "transfer", run(hour + 130, 9.0, success=False), excluded=False)
    store.record("app", "transfer", run(hour + 190, 1.0), excluded=True)  # maintenance
    store.record("app", "transfer", run(hour + HOUR + 5, 700.0), excluded=False)
    store.record("app", "app-api", plain(hour + 10, 0.2), excluded=False)
    assert store.flow_hours(0, NOW) == {}  # nothing before a flush
    store.flush()
    got = store.flow_hours(hour, NOW)
    assert got == {"transfer": [
        FlowHistogram(hour, 2, 5.5, bins_of(2.0, 3.5), 2.0, 3.5),
        FlowHistogram(hour + HOUR, 1, 700.0, bins_of(700.0), 700.0, 700.0),
    ]}
    assert store.flow_hours(hour + HOUR, NOW)["transfer"][0].start == hour + HOUR
    assert store.flow_hours(hour, NOW, ["app-api"]) == {}
    assert store.flow_first() == {"transfer": float(hour)}
    # The availability buckets still count every run, the failure included.
    assert store.window_counts("target", ["1d"], NOW)["transfer"]["1d"].total == 4


def test_flushes_into_one_hour_add_up(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    hour = int(NOW) - HOUR
    store.record("web", "opening", run(hour + 1, 600.0), excluded=False)
    store.flush()
    store.record("web", "opening", run(hour + 61, 600.0), excluded=False)  # same bin
    store.record("web", "opening", run(hour + 121, 0.005), excluded=False)  # a new bin
    store.flush()  # a faster run: min()/LEAST() lowers the stored fastest
    store.record("web", "opening", run(hour + 181, 900.0), excluded=False)
    store.flush()  # a slower run: max()/GREATEST() raises the stored slowest
    [h] = store.flow_hours(hour, NOW)["opening"]
    assert h.runs == 4
    assert h.duration_sum == pytest.approx(2100.005)
    assert h.bins == {flow_bin(600.0): 2, 0: 1, flow_bin(900.0): 1}
    assert (h.min_seconds, h.max_seconds) == (0.005, 900.0)
    # Empty bins are NULL, not 0: nothing stored for them.
    row = store._query("SELECT * FROM flow_hour", [])[0]
    assert sum(v is None for v in row) == FLOW_BINS - 3


def test_a_failed_flush_keeps_the_flow_times(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.flush()  # the first flush prunes; get it out of the way
    store.record("app", "transfer", run(NOW - 60, 2.0), excluded=False)
    read_only = {
        "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
        "postgres": ("SET default_transaction_read_only = on",
                     "SET default_transaction_read_only = off"),
    }[store.dialect]  # fmt: skip
    store._conn.execute(read_only[0])
    if store.dialect == "postgres":
        store._conn.commit()
    with pytest.raises(Exception, match=r"read-only|readonly"):
        store.flush()
    store.record("app", "transfer", run(NOW - 30, 4.0), excluded=False)
    store._conn.execute(read_only[1])
    if store.dialect == "postgres":
        store._conn.commit()
    store.flush()
    [h] = store.flow_hours(NOW - 2 * HOUR, NOW)["transfer"]
    assert (h.runs, h.duration_sum, h.bins) == (2, 6.0, bins_of(2.0, 4.0))
    assert (h.min_seconds, h.max_seconds) == (2.0, 4.0)


def test_compacted_minutes_keep_their_flow_times(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW, max_pending=10)
    for i in range(30):  # 30 minute buckets: folded into hours to stay under 10
        store.record("app", "transfer", run(NOW - 3 * HOUR + i * 60, 1.5 + i / 1000),
                     excluded=False)
    assert store.aggregated_buckets > 0
    store.flush()
    hours = store.flow_hours(0, NOW)["transfer"]
    assert sum(h.runs for h in hours) == 30
    assert sum(n for h in hours for n in (h.bins or {}).values()) == 30
    assert min(h.min_seconds or 0.0 for h in hours) == 1.5
    assert max(h.max_seconds or 0.0 for h in hours) == pytest.approx(1.529)


def test_flow_times_are_kept_as_long_as_hour_buckets(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW, hour_retention_seconds=10 * 86400.0)
    store.record("app", "transfer", run(NOW - 20 * 86400, 2.0), excluded=False)
    store.record("app", "transfer", run(NOW - 5 * 86400, 2.0), excluded=False)
    store.flush()  # the first flush prunes, at NOW
    hours = store.flow_hours(0, NOW)["transfer"]
    assert [h.start for h in hours] == [int(NOW - 5 * 86400) // HOUR * HOUR]


def test_migration_4_upgrades_a_version_3_file(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(schema.VERSION_TABLE)
    for version in (1, 2, 3):
        for statement in schema.statements(version, "sqlite"):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
    conn.execute("INSERT INTO target_hour (target, start, good, total) VALUES ('t', ?, 5, 6)",
                 (int(NOW) // HOUR * HOUR,))
    conn.close()
    store = SqliteProbeStore(str(path), clock=lambda: NOW)
    assert store.schema_version() == schema.LATEST_VERSION >= 4
    assert store.series("target", "t", "hour", 0, NOW + HOUR)[0].total == 6
    store.record("app", "t", run(NOW + 5, 3.0), excluded=False)
    store.flush()
    assert store.flow_hours(0, NOW + HOUR)["t"][0].runs == 1
    store.close()


def test_migration_4_spells_out_the_current_bins() -> None:
    # A change of monitor.slo.flowtime's bounds needs a new migration, not an edit of 4.
    assert schema._FLOW_BINS_V4 == FLOW_BINS
    # And the store reads and writes exactly the columns migration 4 creates.
    conn = sqlite3.connect(":memory:")
    for statement in schema.statements(4, "sqlite"):
        conn.execute(statement)
    columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(flow_hour)"))
    conn.close()
    assert columns == ("target", "start", *FLOW_COLUMNS)


def test_migration_4_on_both_backends(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.record("app", "api", plain(NOW - 60, 0.1), excluded=False)
    store.flush()
    conn = store._conn
    conn.execute("DROP TABLE flow_hour")  # back to what migrations 1-3 left
    conn.execute("ALTER TABLE consistency_runs DROP COLUMN dataset")  # and 5 added
    conn.execute("DROP INDEX incidents_end")  # and 6
    conn.execute("DELETE FROM schema_version WHERE version >= 4")
    if store.dialect == "postgres":
        conn.commit()
    store.close()
    again = make_store(clock=lambda: NOW)
    assert again.schema_version() == schema.LATEST_VERSION
    assert again.targets() == {"api": "app"}
    again.record("app", "transfer", run(NOW - 30, 2.0), excluded=False)
    again.flush()
    assert again.flow_hours(0, NOW)["transfer"][0].runs == 1
