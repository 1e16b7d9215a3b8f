"""The probe store, the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.slo.budget import Bucket, Counts, window_counts
from monitor.store.buckets import HISTOGRAM_BINS
from monitor.store.schema import LATEST_VERSION
from probes.result import ProbeResult
from tests.stores import StoreFactory

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC).timestamp()


def ok(t: float, duration: float = 0.2, degraded: bool = False) -> ProbeResult:
    return ProbeResult(True, "ok", duration, degraded=degraded, started_at=t)


def down(t: float, reason: str = "timeout") -> ProbeResult:
    return ProbeResult(False, reason, 5.0, started_at=t)


def test_nothing_is_visible_before_a_flush(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.record("app", "app-api", ok(NOW - 30), excluded=False)
    assert store.window_counts("target", ["1h"], NOW) == {}
    store.flush()
    assert store.window_counts("target", ["1h"], NOW) == {"app-api": {"1h": Counts(1, 1, 0)}}
    assert store.schema_version() == LATEST_VERSION


def test_window_counts_match_the_reference_math(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    reference: list[Bucket] = []
    # Three days of one probe every 30 s; failures on a pattern, degraded on another.
    for i in range(1, 3 * 2880 + 1):
        t = NOW - i * 30.0
        result = down(t) if i % 97 == 0 else ok(t, degraded=i % 13 == 0)
        store.record("app", "app-api", result, excluded=False)
        store.record("app", "app-web", ok(t), excluded=False)
        good = int(result.success)
        reference.append(Bucket(t // 60 * 60, Counts(good, 1, int(result.degraded))))
    store.flush()
    labels = ["5m", "30m", "1h", "2h", "6h", "1d"]
    got = store.window_counts("target", labels, NOW)
    assert got["app-api"] == window_counts(reference, labels, NOW)
    # Longer windows are read from hour buckets: the reference over hour-floored starts.
    hourly = [Bucket(b.start // 3600 * 3600, b.counts) for b in reference]
    long_labels = ["3d", "7d", "30d"]
    got_long = store.window_counts("target", long_labels, NOW, month_from=NOW - 5 * 3600)
    expected = window_counts(hourly, long_labels, NOW, month_from=NOW - 5 * 3600)
    assert got_long["app-api"] == expected
    assert got_long["app-web"]["3d"] == Counts(8640, 8640, 0)
    channel = store.window_counts("channel", ["1h", "7d"], NOW)
    assert channel["app"]["1h"] == Counts(
        got["app-api"]["1h"].good + 120,
        got["app-api"]["1h"].total + 120,
        got["app-api"]["1h"].degraded,
    )
    assert channel["app"]["7d"].total == 2 * 8640
    assert store.window_counts("target", ["1h"], NOW, names=["app-web"]).keys() == {"app-web"}


def test_flushes_add_up_and_excluded_probes_are_apart(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    t = NOW - 600
    store.record("branch", "core", ok(t, duration=0.05), excluded=False)
    store.flush()
    store.record("branch", "core", ok(t + 1, duration=3.0), excluded=False)
    store.record("branch", "core", down(t + 2, "connect_refused"), excluded=False)
    store.record("branch", "core", down(t + 3), excluded=True)
    store.flush()
    [bucket] = store.series("target", "core", "minute", NOW - 3600, NOW)
    assert bucket.start == int(t // 60 * 60)
    assert (bucket.good, bucket.total, bucket.degraded, bucket.excluded) == (2, 3, 0, 1)
    assert bucket.latency_sum == pytest.approx(3.05)
    assert bucket.mean_latency_seconds == pytest.approx(1.525)
    assert bucket.reason == "connect_refused"
    hist = [0] * HISTOGRAM_BINS
    hist[0] = 1  # <= 0.1 s
    hist[5] = 1  # <= 5 s
    assert bucket.histogram == tuple(hist)
    [hour] = store.series("channel", "branch", "hour", NOW - 3600, NOW)
    assert (hour.good, hour.total, hour.excluded) == (2, 3, 1)
    totals = store.totals("channel", NOW - 86400, NOW)
    assert totals["branch"].counts == Counts(2, 3, 0)
    assert totals["branch"].excluded == 1
    assert store.targets() == {"core": "branch"}


def test_incidents_open_close_and_survive_a_restart(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    t0 = NOW - 3600
    store.record("app", "api", ok(t0), excluded=False)
    store.record("app", "api", down(t0 + 30, "http_status"), excluded=False)
    store.record("app", "api", down(t0 + 60), excluded=False)
    store.record("app", "api", ok(t0 + 90), excluded=True)  # excluded: changes nothing
    store.record("app", "api", ok(t0 + 120), excluded=False)
    store.record("app", "api", down(t0 + 150, "dns"), excluded=False)
    store.flush()
    incidents = store.incidents(NOW - 86400, NOW)
    assert [(i.start, i.end, i.reason) for i in incidents] == [
        (t0 + 30, t0 + 120, "http_status"),
        (t0 + 150, None, "dns"),
    ]
    assert incidents[0].duration_seconds(NOW) == 90
    assert incidents[1].duration_seconds(NOW) == NOW - t0 - 150
    store.close()

    again = make_store(clock=lambda: NOW)
    again.record("app", "api", down(t0 + 180), excluded=False)  # still the same incident
    again.record("app", "api", ok(t0 + 210), excluded=False)
    again.flush()
    assert [(i.start, i.end) for i in again.incidents(NOW - 86400, NOW, channel="app")] == [
        (t0 + 30, t0 + 120),
        (t0 + 150, t0 + 210),
    ]
    assert again.incidents(NOW - 86400, NOW, target="other") == []
    assert again.incidents(t0 + 200, NOW)[0].start == t0 + 150  # overlap, not containment
    assert again.schema_version() == LATEST_VERSION


def test_retention_prunes_old_buckets(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW, minute_retention_seconds=86400)
    for hours_back in (1, 25, 500 * 24):
        store.record("app", "api", ok(NOW - hours_back * 3600), excluded=False)
    store.flush()  # the first flush prunes, at NOW
    minutes = store.series("target", "api", "minute", 0, NOW)
    assert [b.start for b in minutes] == [NOW - 3600]
    hours = store.series("target", "api", "hour", 0, NOW)
    assert [b.start for b in hours] == [NOW - 25 * 3600, NOW - 3600]
    assert store.window_counts("channel", ["1h", "30d"], NOW)["app"]["30d"].total == 2
    with pytest.raises(ValueError, match="at least a day"):
        make_store(minute_retention_seconds=7200)


def test_a_failed_flush_keeps_the_batch_for_the_next(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.flush()  # the first flush prunes; get it out of the way
    store.record("app", "api", ok(NOW - 60), excluded=False)
    store.record("app", "api", down(NOW - 50), excluded=False)
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
    store.record("app", "api", ok(NOW - 40), excluded=False)  # recorded meanwhile
    store._conn.execute(read_only[1])
    if store.dialect == "postgres":
        store._conn.commit()
    store.flush()
    assert store.window_counts("target", ["1h"], NOW)["api"]["1h"] == Counts(2, 3, 0)
    [incident] = store.incidents(NOW - 3600, NOW)
    assert (incident.start, incident.end) == (NOW - 50, NOW - 40)


def test_records_during_concurrent_flushes_are_all_kept(make_store: StoreFactory) -> None:
    import threading

    store = make_store(clock=lambda: NOW)
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            store.flush()

    threads = [threading.Thread(target=flusher) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        for i in range(3000):
            result = down(NOW - 3000 + i) if i % 10 == 0 else ok(NOW - 3000 + i)
            store.record("app", f"t{i % 7}", result, excluded=False)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    store.flush()
    counts = store.window_counts("channel", ["1h"], NOW)["app"]["1h"]
    assert counts == Counts(2700, 3000, 0)
    incidents = store.incidents(NOW - 3600, NOW)
    assert len(incidents) == 300
    assert all(i.end is not None and i.end - i.start == 7 for i in incidents)


def test_open_store_follows_the_config(tmp_path: Path) -> None:
    from monitor.config.model import StoreConfig
    from monitor.store import open_store
    from monitor.store.sqlite import SqliteProbeStore

    store = open_store(StoreConfig(sqlite_path=str(tmp_path / "x.db")))
    try:
        assert isinstance(store, SqliteProbeStore)
        assert (tmp_path / "x.db").exists()
    finally:
        store.close()


def test_retention_reaches_a_channel_its_targets_left(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.record("old", "api", ok(NOW - 3 * 86400), excluded=False)
    store.record("new", "api", ok(NOW - 60), excluded=False)
    store.flush()  # prunes at NOW: 3 days back is past the 48 h of minute buckets
    assert store.series("channel", "old", "minute", 0, NOW) == []
    assert len(store.series("channel", "old", "hour", 0, NOW)) == 1
    assert store.targets() == {"api": "new"}


def test_recent_incidents_are_found_by_index_not_by_a_scan(tmp_path: Path) -> None:
    # The status snapshot asks for recent incidents every second: with a year of them
    # kept, that query must walk the end-time index, never the whole table.
    import sqlite3

    from monitor.config.model import StoreConfig
    from monitor.store import open_store
    from monitor.store.queries import incidents

    path = tmp_path / "h.db"
    open_store(StoreConfig(sqlite_path=str(path))).close()
    sql, params = incidents(NOW - 7 * 86400, NOW, None, None, "?")
    with sqlite3.connect(path) as db:
        plan = " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "incidents_end" in plan
    assert "SCAN incidents" not in plan
