"""Benchmark the SLO path: 10,000 targets with 30 days of history.

    .venv/bin/python bench/slo.py [--db /tmp/omniwatch-bench.db] [--targets 10000]
                                  [--days 30] [--postgres DSN] [--repeat 7]

Fills a store as the running monitor would have left it (hour buckets for every target
for ``--days``, minute buckets for the last 48 hours, per-channel rollups of both, the
target map), then times:

1. ``omniwatch slo``: open the store, compute every channel SLO (all windows, the month),
   goal < 1 s;
2. the SLO collector: the same on an open store, rendered as Prometheus text, goal
   < 250 ms;
3. writes: ``record`` at ten times the probe rate of 10,000 targets every 30 s, with a
   ``flush`` every 10 s of probe time, goal >= 3,333 records/s sustained.

The filled SQLite file is reused by later runs (delete it to refill).  Filling uses bulk
SQL, not ``record``: 30 days of probes would take 30 days to replay.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.slo.budget import SloSpec, SloStatus, evaluate, month_start
from monitor.store.sql import SqlProbeStore
from probes.result import ProbeResult

CHANNELS = ("app", "website", "miniprogram", "branch")
HOUR, MINUTE = 3600, 60


def fill(store: SqlProbeStore, targets: int, days: int, now: int) -> None:
    """Bulk-fill buckets with SQL generators; 2 probes/minute/target, ~0.3% failures."""
    hour_end = now // HOUR * HOUR
    minute_end = now // MINUTE * MINUTE
    pg = store.dialect == "postgres"
    rnd = "floor(random() * 1000)::int" if pg else "abs(random()) % 1000"
    series = (
        "generate_series(0, {n} - 1) AS t(i)"
        if pg
        else "(WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < {n} - 1)"
        " SELECT i FROM t) AS t"
    )
    times = (
        "generate_series({first}, {last}, {step}) AS s(s)"
        if pg
        else "(WITH RECURSIVE s(s) AS (SELECT {first} UNION ALL SELECT s + {step} FROM s"
        " WHERE s < {last}) SELECT s FROM s) AS s"
    )
    # Zero-padded, so target-major generation inserts in primary-key order.
    name = "'target-' || lpad(i::text, 5, '0')" if pg else "printf('target-%05d', i)"
    statements: list[str] = [
        (
            f"INSERT INTO targets (target, channel) SELECT {name}, "
            f"CASE i % 4 WHEN 0 THEN 'app' WHEN 1 THEN 'website' WHEN 2 THEN 'miniprogram' "
            f"ELSE 'branch' END FROM {series.format(n=targets)}"
        )
    ]
    for table, step, count, first, per in (
        ("target_hour", HOUR, days * 24, hour_end - (days * 24 - 1) * HOUR, 120),
        ("target_minute", MINUTE, 48 * 60, minute_end - (48 * 60 - 1) * MINUTE, 2),
    ):
        bad = f"(CASE WHEN {rnd} < 3 THEN 1 ELSE 0 END)"
        statements.append(
            f"INSERT INTO {table} (target, start, good, total, degraded, excluded, "
            f"latency_sum, h0, h1) SELECT {name}, s, {per} - {bad}, {per}, 0, 0, "
            f"{per} * 0.08, {per} - 1, 1 FROM {series.format(n=targets)} CROSS JOIN "
            f"{times.format(first=first, last=first + (count - 1) * step, step=step)}"
        )
    for resolution in ("hour", "minute"):
        statements.append(
            f"INSERT INTO channel_{resolution} (channel, start, good, total, degraded, "
            f"excluded, latency_sum, h0, h1) SELECT g.channel, b.start, SUM(b.good), "
            f"SUM(b.total), SUM(b.degraded), SUM(b.excluded), SUM(b.latency_sum), "
            f"SUM(b.h0), SUM(b.h1) FROM target_{resolution} b JOIN targets g "
            f"ON g.target = b.target GROUP BY g.channel, b.start"
        )
    if not pg:  # a bulk load wants a big page cache; the running store does not
        store._conn.execute("PRAGMA cache_size=-1048576")
    for sql in statements:
        began = time.perf_counter()
        with store._db_lock, store._transaction() as cur:
            cur.execute(sql)
        print(f"  filled {sql.split()[2]:<15} in {time.perf_counter() - began:6.1f} s")
    # Fresh planner statistics, as autovacuum (or SQLite's optimize) would have by now;
    # without them PostgreSQL plans the per-target retention deletes as sequential scans.
    with store._db_lock, store._transaction() as cur:
        cur.execute("ANALYZE")


def statuses(store: SqlProbeStore, now: float) -> list[SloStatus]:
    """What ``omniwatch slo`` computes: every channel SLO at ``now``."""
    specs = [SloSpec(c, latency_objective=0.99 if c == "app" else None) for c in CHANNELS]
    windows = specs[0].windows
    counts = store.window_counts("channel", windows, now, month_from=month_start(now))
    return [evaluate(spec, counts.get(spec.name, {}), now) for spec in specs]


class SloCollector(Collector):
    """A collector shaped like the one the lead wires in: everything at scrape time."""

    def __init__(self, store: SqlProbeStore, clock: Callable[[], float]) -> None:
        self.store, self.clock = store, clock

    def collect(self) -> Any:
        sli = GaugeMetricFamily("omniwatch_sli_ratio", "SLI", labels=["slo", "window"])
        burn = GaugeMetricFamily("omniwatch_burn_rate", "Burn rate", labels=["slo", "window"])
        left = GaugeMetricFamily(
            "omniwatch_error_budget_remaining_ratio", "Budget left", labels=["slo"]
        )
        state = GaugeMetricFamily("omniwatch_slo_status", "0 ok 1 ticket 2 page", labels=["slo"])
        for s in statuses(self.store, self.clock()):
            a = s.availability
            for w, v in a.sli.items():
                sli.add_metric([s.spec.name, w], float("nan") if v is None else v)
            for w, v in a.burn_rates.items():
                burn.add_metric([s.spec.name, w], float("nan") if v is None else v)
            remaining = a.budget_remaining_ratio
            left.add_metric([s.spec.name], float("nan") if remaining is None else remaining)
            state.add_metric([s.spec.name], {"ok": 0, "ticket": 1, "page": 2}[s.alert])
        yield from (sli, burn, left, state)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and worst wall time of ``fn`` in seconds."""
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs), max(runs)


def write_throughput(store: SqlProbeStore, targets: int, seconds: int) -> tuple[int, float, float]:
    """Record ten times the probe rate (every target every 3 s) for ``seconds`` of probe time.

    Returns records, total wall seconds and the slowest single flush.
    """
    start = time.time()
    ok = ProbeResult(True, "ok", 0.08)
    bad = ProbeResult(False, "timeout", 5.0)
    records, worst_flush = 0, 0.0
    began = time.perf_counter()
    for tick in range(0, seconds, 3):
        for i in range(targets):
            result = bad if (i + tick) % 997 == 0 else ok
            t = start + tick + i * 3 / targets
            store.record("bench-write", f"bench-write-{i}", _at(result, t), excluded=False)
            records += 1
        if tick % 10 >= 7:  # a flush every 10 s of probe time
            flush_began = time.perf_counter()
            store.flush()
            worst_flush = max(worst_flush, time.perf_counter() - flush_began)
    store.flush()
    return records, time.perf_counter() - began, worst_flush


def _at(result: ProbeResult, t: float) -> ProbeResult:
    return ProbeResult(result.success, result.reason, result.duration_seconds, started_at=t)


def open_store(args: argparse.Namespace) -> SqlProbeStore:
    if args.postgres:
        from monitor.store.postgres import PostgresProbeStore

        return PostgresProbeStore(args.postgres, schema="ow_bench")
    from monitor.store.sqlite import SqliteProbeStore

    return SqliteProbeStore(args.db)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="/tmp/omniwatch-bench.db")
    ap.add_argument("--postgres", help="a DSN: bench PostgreSQL (schema ow_bench) instead")
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--write-seconds", type=int, default=120)
    ap.add_argument("--slo-once", action="store_true", help="compute once and exit (timed)")
    args = ap.parse_args()
    now = int(time.time())
    if args.slo_once:
        statuses(open_store(args), now)
        return 0

    store = open_store(args)
    if not store.targets():
        print(f"filling {args.targets} targets x {args.days} days ...")
        fill(store, args.targets, args.days, now)
    where = (args.postgres and "postgres") or f"{args.db} ({os.path.getsize(args.db) >> 20} MiB)"
    print(f"store: {where}")

    def cold() -> None:
        fresh = open_store(args)
        statuses(fresh, time.time())
        fresh._conn.close()

    registry = CollectorRegistry()
    registry.register(SloCollector(store, time.time))
    scrape = generate_latest(registry)
    assert b"omniwatch_slo_status" in scrape

    results = {
        "omniwatch slo (open store + all channel SLOs)": (timed(cold, args.repeat), 1.0),
        "SLO collector render (open store)": (
            timed(lambda: generate_latest(registry), args.repeat),
            0.25,
        ),
        "one target's SLO windows": (
            timed(
                lambda: store.window_counts(
                    "target",
                    SloSpec("t").windows,
                    time.time(),
                    month_start(time.time()),
                    ["target-00042"],
                ),
                args.repeat,
            ),
            None,
        ),
    }
    for label, ((median, worst), goal) in results.items():
        verdict = "" if goal is None else ("  ok" if worst < goal else f"  OVER {goal:g} s")
        print(f"{label:<48} median {median * 1000:8.1f} ms  worst {worst * 1000:8.1f} ms{verdict}")

    if not args.postgres:
        # The whole command as a user runs it: interpreter start and imports included.
        began = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--db", args.db, "--slo-once"], check=True)
        print(f"{'omniwatch slo as a new process':<48} {time.perf_counter() - began:8.3f} s")

    began = time.perf_counter()
    store.prune(time.time())  # what the first flush of a run would do; timed apart
    print(f"{'retention prune (first of this run)':<48} {time.perf_counter() - began:8.3f} s")
    records, elapsed, worst = write_throughput(store, args.targets, args.write_seconds)
    rate = records / elapsed
    verdict = "ok" if rate >= 3333 else "BELOW 3,333/s"
    print(f"writes: {records} records with flushes in {elapsed:.2f} s = {rate:,.0f}/s  {verdict}")
    print(f"slowest flush ({args.targets:,} targets): {worst * 1000:.0f} ms")
    s = statuses(store, time.time())[0]
    print(f"sample: {s.spec.name} sli30d={s.availability.sli['30d']} alert={s.alert}")
    store._conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
