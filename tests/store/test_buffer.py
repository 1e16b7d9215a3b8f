"""The bounded write buffer: the oldest minutes fold into hours, only then hours are dropped.

Pure tests of :meth:`Batch.compact`, then the store keeping every probe across failed
flushes under a small ``max_pending``, and a lazy store joining stored incidents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.store.buckets import HOUR, MINUTE, Batch
from monitor.store.connection import Backoff, StoreDown
from monitor.store.sqlite import SqliteProbeStore
from probes.result import ProbeResult
from tests.stores import StoreFactory

NOW = 1_800_000_000 // HOUR * HOUR  # an hour boundary


def ok(t: float) -> ProbeResult:
    return ProbeResult(True, "ok", 0.2, started_at=t)


def down(t: float) -> ProbeResult:
    return ProbeResult(False, "timeout", 1.0, started_at=t)


def fill(batch: Batch, targets: int, hours: int, start: float = NOW - 10 * HOUR) -> int:
    """One probe per target per minute over ``hours`` hours; returns the probes added."""
    n = 0
    for minute in range(hours * 60):
        for i in range(targets):
            batch.add("app", f"t{i}", start + minute * MINUTE, ok(0), False)
            n += 1
    return n


def hour_totals(batch: Batch) -> dict[tuple[str, int], int]:
    return {k: t.total for k, t in batch.rollups()["target_hour"].items()}


def test_under_the_cap_nothing_changes() -> None:
    batch = Batch()
    fill(batch, targets=2, hours=1)
    done = batch.compact(cap=120)
    assert (done.aggregated_buckets, done.dropped_buckets) == (0, 0)
    assert len(batch.minutes) == 120
    assert not batch.hours


def test_the_oldest_hour_is_folded_first_and_no_probe_is_lost() -> None:
    batch = Batch()
    added = fill(batch, targets=3, hours=3)  # 540 minute buckets
    before = hour_totals(batch)
    done = batch.compact(cap=410)
    # Folding the oldest hour (180 minute buckets into 3 hour buckets) is enough.
    assert done.aggregated_buckets == 180
    assert done.dropped_probes == 0
    assert batch.buckets == 360 + 3 <= 410 * 9 // 10
    oldest = NOW - 10 * HOUR
    assert set(batch.hours) == {("app", f"t{i}", oldest) for i in range(3)}
    assert min(k[2] for k in batch.minutes) == oldest + HOUR
    assert hour_totals(batch) == before  # the hour and channel tables get the same counts
    assert batch.probes == added
    assert sum(t.total for t in batch.rollups()["channel_hour"].values()) == added


def test_hours_are_dropped_only_when_folding_is_not_enough_and_counted() -> None:
    batch = Batch()
    added = fill(batch, targets=10, hours=3)
    done = batch.compact(cap=20)
    # Everything folds into 30 hour buckets; 12 of the oldest go to reach 90% of 20.
    assert done.aggregated_buckets == 1800
    assert (done.dropped_buckets, done.dropped_probes) == (12, 12 * 60)
    assert batch.buckets == 18
    assert not batch.minutes
    assert batch.probes == added - 12 * 60
    assert min(k[2] for k in batch.hours) >= NOW - 9 * HOUR  # the oldest hour went first


def test_merging_a_failed_batch_back_adds_counts() -> None:
    old, new = Batch(), Batch()
    fill(old, targets=1, hours=1)
    old.compact(cap=10)
    fill(new, targets=1, hours=1)
    old.merge(new)
    assert old.probes == 120
    assert sum(hour_totals(old).values()) == 120


def test_backoff_doubles_to_its_maximum_and_resets() -> None:
    b = Backoff(initial=1.0, maximum=5.0)
    waits = []
    for now in range(5):
        b.failed(float(now))
        waits.append(b.wait_left(float(now)))
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]
    b.succeeded()
    assert b.wait_left(10.0) == 0.0


def test_store_keeps_every_probe_through_failed_flushes_under_a_small_cap(
    make_store: StoreFactory,
) -> None:
    store = make_store(clock=lambda: NOW, max_pending=50)
    store.flush()  # the first flush prunes; get it out of the way
    read_only = {
        "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
        "postgres": ("SET default_transaction_read_only = on",
                     "SET default_transaction_read_only = off"),
    }[store.dialect]  # fmt: skip
    store._conn.execute(read_only[0])
    store._conn.commit()
    recorded = 0
    for minute in range(180):  # three hours, two targets
        for target in ("api", "web"):
            store.record("app", target, ok(NOW - 3 * HOUR + minute * MINUTE), False)
            recorded += 1
        if minute % 30 == 29:
            with pytest.raises(StoreDown, match="read_only") as failed:
                store.flush()
            assert failed.value.error == "read_only"
    buckets, probes = store.buffered()
    assert buckets <= 50
    assert probes == recorded
    assert store.aggregated_buckets > 0
    assert store.dropped_probes == 0
    store._conn.execute(read_only[1])
    store._conn.commit()
    store.flush()
    assert store.buffered() == (0, 0)
    counts = store.window_counts("channel", ["30d"], NOW)["app"]["30d"]
    assert counts.total == recorded  # hour buckets hold them all
    # The last minutes kept their resolution; the folded ones are in hour buckets only.
    minutes = store.series("target", "api", "minute", 0, NOW)
    assert 0 < len(minutes) < 180


def test_a_lazy_store_joins_an_incident_left_open(make_store: StoreFactory) -> None:
    first = make_store(clock=lambda: NOW)
    first.record("app", "api", down(NOW - 600), False)
    first.close()
    # Started again while the database was unreachable: it probed before connecting.
    later = make_store(clock=lambda: NOW, lazy=True)
    later.record("app", "api", down(NOW - 300), False)
    later.record("app", "api", ok(NOW - 200), False)
    later.record("app", "web", down(NOW - 100), False)
    later.flush()
    incidents = later.incidents(NOW - HOUR, NOW)
    assert [(i.target, i.start, i.end) for i in incidents] == [
        ("api", NOW - 600, NOW - 200),  # one incident, from the first failure on
        ("web", NOW - 100, None),
    ]
    assert later.close() == 0


def test_close_never_raises_and_reports_what_it_could_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "missing"
    store = SqliteProbeStore(str(folder / "omniwatch.db"), lazy=True)
    store.record("app", "api", ok(NOW), False)
    with pytest.raises(StoreDown, match="cannot_open"):
        store.flush()
    assert store.close() == 1
