"""Two datasets (one with a compound key) on the real PostgreSQL, MariaDB and SQLite: exact
counts in full and checksum mode, and incremental runs that see, in the rows they cover,
exactly what a whole run sees."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_datasets
from monitor.consistency.jobs import ConsistencyState, check_now, schedule_loop
from monitor.consistency.model import ConsistencyReport, Outcome
from tests.consistency.conftest import MYSQL_DSN, PG_DSN
from tests.procs import OmniwatchProcess, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

OLD = datetime(2024, 1, 1, tzinfo=UTC)
CUST_COLUMNS = ["customer_id", "name", "phone", "updated_at"]
ACCT_COLUMNS = ["customer_id", "account_no", "status", "currency", "updated_at"]


def customers() -> list[list[Any]]:
    return [[f"C{i:03d}", f"Name {i}", f"1380013{i:04d}", OLD] for i in range(1, 21)]


def accounts() -> list[list[Any]]:
    return [[f"C{i:03d}", f"A{n}", "active", "CNY", OLD] for i in range(1, 11)
            for n in range(1, 4)]


def _changed(rows: list[list[Any]], key: tuple[str, ...], col: int, value: str
             ) -> list[list[Any]]:
    return [[*r[:col], value, *r[col + 1:]] if tuple(r[:len(key)]) == key else r
            for r in rows]


def _without(rows: list[list[Any]], key: tuple[str, ...]) -> list[list[Any]]:
    return [r for r in rows if tuple(r[:len(key)]) != key]


@dataclass(frozen=True)
class Tables:
    """The connections and the SQLite file holding both datasets' tables."""

    pg: psycopg.Connection[Any]
    my: pymysql.Connection[Any]
    lite: Path


def _pg(conn: psycopg.Connection[Any], table: str, columns: list[str], key: int,
        rows: list[list[Any]]) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    cols = ", ".join(f"{c} timestamptz" if c == "updated_at" else f"{c} text" for c in columns)
    conn.execute(f"CREATE TABLE {table} ({cols}, PRIMARY KEY ({', '.join(columns[:key])}))")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        rows)


def _my(conn: pymysql.Connection[Any], table: str, columns: list[str],
        rows: list[list[Any]]) -> None:
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cols = ", ".join(f"{c} DATETIME(6)" if c == "updated_at" else f"{c} VARCHAR(64)"
                         for c in columns)
        cur.execute(f"CREATE TABLE {table} ({cols}) CHARACTER SET utf8mb4")
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        [[v.replace(tzinfo=None) if isinstance(v, datetime) else v
                          for v in r] for r in rows])


def _lite(path: Path, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} TEXT' for c in columns)})")
    # Times as text in the form SQLite compares with a bound datetime (a space, not 'T').
    conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                     [[v.isoformat(" ") if isinstance(v, datetime) else v for v in r]
                      for r in rows])
    conn.commit()
    conn.close()


@pytest.fixture
def tables(pg: psycopg.Connection[Any], my: pymysql.Connection[Any],
           tmp_path: Path) -> Iterator[Tables]:
    cust, acct = customers(), accounts()
    _pg(pg, "ow_ds_cust_ref", CUST_COLUMNS, 1, cust)
    _pg(pg, "ow_ds_acct_ref", ACCT_COLUMNS, 2, acct)
    # MariaDB: one field differs, one key missing, one extra, in each dataset.
    _my(my, "ow_ds_cust", CUST_COLUMNS,
        [*_without(_changed(cust, ("C005",), 2, "13900000000"), ("C010",)),
         ["C099", "Extra", "13800000099", OLD]])
    _my(my, "ow_ds_acct", ACCT_COLUMNS,
        [*_without(_changed(acct, ("C002", "A2"), 2, "frozen"), ("C004", "A1")),
         ["C001", "A9", "active", "CNY", OLD]])
    lite = tmp_path / "web.db"
    _lite(lite, "cust", CUST_COLUMNS, _changed(cust, ("C003",), 1, "Someone Else"))
    _lite(lite, "acct", ACCT_COLUMNS, _changed(acct, ("C007", "A3"), 3, "USD"))
    yield Tables(pg, my, lite)
    pg.execute("DROP TABLE IF EXISTS ow_ds_cust_ref, ow_ds_acct_ref")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_ds_cust, ow_ds_acct")


def section(lite: Path, **top: Any) -> dict[str, Any]:
    def srcs(ref: str, chan: str, table: str) -> dict[str, Any]:
        return {"branch": {"kind": "postgres", "dsn": PG_DSN, "table": ref,
                           "updated_at": "updated_at"},
                "app": {"kind": "mysql", "dsn": MYSQL_DSN, "table": chan,
                        "updated_at": "updated_at"},
                "web": {"kind": "sqlite", "path": str(lite), "table": table,
                        "updated_at": "updated_at"}}

    return {"objective": "99%", "grace": "1s", **top, "datasets": {
        "customers": {"reference": "branch", "fields": ["name", "phone"],
                      "normalisers": {"phone": "exact"},
                      "sources": srcs("ow_ds_cust_ref", "ow_ds_cust", "cust")},
        "accounts": {"reference": "branch", "key": ["customer_id", "account_no"],
                     "fields": ["status", "currency"],
                     "sources": srcs("ow_ds_acct_ref", "ow_ds_acct", "acct")}}}


def counts(r: ConsistencyReport) -> dict[str, int]:
    assert r.error is None, r.error
    return {str(o): n for o, n in r.counts.items() if n}


def by_name(reports: list[ConsistencyReport]) -> dict[tuple[str, str], ConsistencyReport]:
    return {(r.dataset, r.channel): r for r in reports}


WHOLE = {
    ("customers", "app"): {"match": 18, "mismatch": 1, "missing": 1, "extra": 1},
    ("customers", "web"): {"match": 19, "mismatch": 1},
    ("accounts", "app"): {"match": 28, "mismatch": 1, "missing": 1, "extra": 1},
    ("accounts", "web"): {"match": 29, "mismatch": 1},
}


@pytest.mark.parametrize("mode", ["full", "checksum"])
def test_two_datasets_exact_counts(tables: Tables, mode: str) -> None:
    configs = build_datasets(section(tables.lite), "test.yaml")
    got = by_name([r for c in configs for r in check_now(c, None, mode=mode)])
    assert {k: counts(r) for k, r in got.items()} == WHOLE
    assert got["accounts", "app"].field_mismatches == {"status": 1}
    assert sorted(s.key for s in got["accounts", "app"].samples) == [
        "C001|A9", "C002|A2", "C004|A1"]


def _touch(t: Tables, when: datetime) -> None:
    """Changes after a whole run, stamped ``when``: one on the reference side (both channels
    now differ there), one on each channel's side, in each dataset."""
    naive = when.replace(tzinfo=None)
    t.pg.execute("UPDATE ow_ds_cust_ref SET name = 'Renamed', updated_at = %s "
                 "WHERE customer_id = 'C011'", [when])
    t.pg.execute("UPDATE ow_ds_acct_ref SET status = 'closed', updated_at = %s "
                 "WHERE customer_id = 'C008' AND account_no = 'A2'", [when])
    with t.my.cursor() as cur:
        cur.execute("UPDATE ow_ds_cust SET phone = '13700000000', updated_at = %s "
                    "WHERE customer_id = 'C012'", [naive])
        cur.execute("UPDATE ow_ds_acct SET currency = 'HKD', updated_at = %s "
                    "WHERE customer_id = 'C009' AND account_no = 'A1'", [naive])
        # A change that restores agreement is covered too (and then matches).
        cur.execute("UPDATE ow_ds_cust SET phone = '13800130005', updated_at = %s "
                    "WHERE customer_id = 'C005'", [naive])
    conn = sqlite3.connect(t.lite)
    conn.execute("UPDATE acct SET status = 'frozen', updated_at = ? "
                 "WHERE customer_id = 'C003' AND account_no = 'A3'", [when.isoformat(" ")])
    conn.commit()
    conn.close()


def _outcomes(r: ConsistencyReport) -> dict[str, str]:
    return {s.key: str(s.outcome) for s in r.samples}


def test_incremental_sees_what_a_whole_run_sees_in_the_rows_it_covers(tables: Tables
                                                                       ) -> None:
    configs = build_datasets(section(tables.lite, max_samples=100), "test.yaml")
    whole = by_name([r for c in configs for r in check_now(c, None, mode="checksum")])
    watermark = min(r.next_watermark for r in whole.values() if r.next_watermark)
    _touch(tables, datetime.now(UTC))
    time.sleep(1.2)  # out of the 1s grace window: judged, not pending sync
    inc = by_name([r for c in configs for r in check_now(c, None, since=watermark)])
    after = by_name([r for c in configs for r in check_now(c, None, mode="full")])
    assert {r.mode for r in inc.values()} == {"incremental"}
    assert {k: counts(r) for k, r in inc.items()} == {
        # C005 (fixed), C011 (reference changed), C012 (channel changed)
        ("customers", "app"): {"match": 1, "mismatch": 2},
        ("customers", "web"): {"match": 2, "mismatch": 1},
        # C008|A2 (reference), C009|A1 (app), C003|A3 (web)
        ("accounts", "app"): {"match": 1, "mismatch": 2},
        ("accounts", "web"): {"match": 1, "mismatch": 2},
    }
    changed = {"customers": {"C005", "C011", "C012"},
               "accounts": {"C008|A2", "C009|A1", "C003|A3"}}
    for k, r in inc.items():
        covered = _outcomes(r)
        full = _outcomes(after[k])
        # Every non-matching key of the incremental run is one of the whole run's, with
        # the same outcome; every changed key the whole run calls bad, it saw too.
        assert {key: full.get(key) for key in covered} == covered, k
        assert {key: v for key, v in full.items() if key in changed[k[0]]} == covered, k


class History:
    """The history store's one write the scheduler makes, kept in a list; ``done`` is set
    once the accounts dataset's app channel has had two whole runs."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.done = threading.Event()

    def record_consistency(self, run: dict[str, Any]) -> None:
        self.rows.append(run)
        if [r["mode"] for r in self.rows if r["dataset"] == "accounts"
                and r["channel"] == "app"].count("checksum") >= 2:
            self.done.set()


def test_schedule_runs_whole_then_incremental_then_whole_again(tables: Tables) -> None:
    raw = section(tables.lite, mode="checksum",
                  schedule={"interval": "0.3s", "mode": "incremental", "full_every": "1.5s"})
    configs = build_datasets(raw, "test.yaml")
    state = ConsistencyState()
    history = History()

    def acct() -> list[str]:
        return [r["mode"] for r in history.rows
                if r["dataset"] == "accounts" and r["channel"] == "app"]

    async def watch() -> None:
        lock = asyncio.Lock()
        tasks = [asyncio.create_task(schedule_loop(c, state, history, lock))
                 for c in configs]
        try:
            await asyncio.to_thread(history.done.wait, 30)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(watch())
    got = acct()
    assert got[0] == "checksum"  # the first run after start is whole
    assert got[1] == "incremental"
    assert got.count("checksum") >= 2  # full_every brought a whole run back
    assert counts(state.whole["accounts", "app"]) == WHOLE["accounts", "app"]
    # An incremental run without changes keeps the whole run's verdict for the alerts.
    assert state.latest["accounts", "app"].mode == "checksum"
    assert {r["dataset"] for r in history.rows} == {"customers", "accounts"}
    # One check at a time: no run started before the previous one ended.
    spans = sorted((r["started_at_ts"], r["started_at_ts"] + r["duration_seconds"])
                   for r in history.rows if r["channel"] == "app")
    assert all(b[0] >= a[1] - 0.01 for a, b in itertools.pairwise(spans))


def test_compound_keys_deleted_rows_show_in_the_next_whole_run(tables: Tables) -> None:
    configs = build_datasets(section(tables.lite), "test.yaml")
    acct = next(c for c in configs if c.dataset == "accounts")
    start = datetime.now(UTC) - timedelta(seconds=1)
    with tables.my.cursor() as cur:
        cur.execute("DELETE FROM ow_ds_acct WHERE customer_id = 'C006'")
    # A delete leaves no updated_at to find: an incremental run cannot see it (which is
    # why full_every brings whole runs back), the whole run does.
    inc = by_name(check_now(acct, None, since=start))
    assert inc["accounts", "app"].success
    assert inc["accounts", "app"].judged == 0
    whole = by_name(check_now(acct, None, mode="checksum"))
    assert whole["accounts", "app"].counts[Outcome.MISSING] == 4


def test_omniwatch_run_exports_datasets_and_modes(tables: Tables, tmp_path: Path) -> None:
    raw = section(tables.lite, mode="checksum",
                  schedule={"interval": "0.5s", "mode": "incremental", "full_every": "1h"})
    cfg = tmp_path / "omniwatch.yaml"
    # JSON is YAML: the section goes in as written above.
    cfg.write_text("store: {sqlite: history.db, flush_interval: 1s}\n"
                   "channels: {app: {targets: []}}\n"
                   f"consistency: {json.dumps(raw)}\n")
    proc = OmniwatchProcess(cfg)

    def ratio(dataset: str, channel: str, mode: str, reference: str = "branch"
              ) -> float | None:
        return proc.samples().get(("omniwatch_consistency_ratio", frozenset({
            ("dataset", dataset), ("reference", reference), ("channel", channel),
            ("mode", mode)})))

    try:
        assert wait_for(lambda: ratio("accounts", "app", "checksum"), timeout=30) == \
            pytest.approx(28 / 31)
        # SQLite has no checksum push-down: that channel is streamed, and says so.
        assert wait_for(lambda: ratio("customers", "web", "full"), timeout=10) == \
            pytest.approx(19 / 20)
        # all datasets, weighed by judged keys: (18 + 28) / (21 + 31) for app
        assert wait_for(lambda: ratio("all", "app", "checksum"), timeout=10) == \
            pytest.approx(46 / 52)
        assert ratio("all", "all", "mixed") == pytest.approx((46 + 48) / 102)
        _touch(tables, datetime.now(UTC))
        # C008|A2 (reference) and C009|A1 (app) now differ, C003|A3 (changed in web)
        # matches: the changed rows only, once out of the grace window (pending before).
        assert wait_for(lambda: ratio("accounts", "app", "incremental") == pytest.approx(
            1 / 3), timeout=30)
        s = proc.samples()
        assert ("omniwatch_consistency_ratio", frozenset({
            ("dataset", "accounts"), ("reference", "branch"), ("channel", "app"),
            ("mode", "checksum")})) not in s  # the ratio says which run produced it
        # The overall ratio still weighs the whole runs.
        assert s[("omniwatch_consistency_ratio", frozenset({
            ("dataset", "all"), ("reference", "branch"), ("channel", "app"),
            ("mode", "checksum")}))] == pytest.approx(46 / 52)
        assert s[("omniwatch_consistency_check_success", frozenset({
            ("dataset", "accounts"), ("reference", "branch"), ("channel", "app")}))] == 1
        logged = [e for e in proc.events() if e.get("event") == "consistency_checked"]
        assert {e.get("dataset") for e in logged} == {"customers", "accounts"}
    finally:
        proc.stop()
