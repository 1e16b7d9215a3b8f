"""PostgreSQL and MariaDB sources against the real local servers: every mode, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.model import ConsistencyReport, Outcome, SourceRecord
from monitor.consistency.run import run_check
from monitor.consistency.sources import open_source
from monitor.consistency.sources.sql import SqlSource
from tests.consistency import dataset as ds
from tests.consistency.conftest import (
    MYSQL_DSN,
    PG_DSN,
    write_csv,
    write_mysql,
    write_pg,
    write_sqlite,
)

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

MY_COLUMNS = ["cust_no", *ds.FIELDS, "updated_at"]


def as_mysql(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"cust_no": r["customer_id"], **{k: v for k, v in r.items() if k != "customer_id"}}
            for r in rows]


@pytest.fixture
def tables(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]) -> Iterator[None]:
    write_pg(pg, "ow_cons_ref", ds.reference(), ds.COLUMNS, primary_key=True)
    write_pg(pg, "ow_cons_chan", ds.channel(ds.REPLACED), ds.COLUMNS)
    write_mysql(my, "ow_cons_chan", as_mysql(ds.channel(ds.REPLACED)), MY_COLUMNS)
    yield
    pg.execute("DROP TABLE IF EXISTS ow_cons_ref, ow_cons_chan")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_chan")


PG_REF = {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_ref", "updated_at": "updated_at"}
MY_CHAN = {"kind": "mysql", "dsn": MYSQL_DSN, "table": "ow_cons_chan",
           "columns": {"customer_id": "cust_no"}, "updated_at": "updated_at"}


def check(sources: dict[str, Any], mode: str = "full", now: datetime = ds.NOW,
          base: Path | None = None, **extra: Any) -> ConsistencyReport:
    cfg = build_consistency(ds.section(sources, **extra), "test.yaml", base)
    (report,) = run_check(cfg, mode=mode, now=now, seed=7)
    return report


def assert_dataset(report: ConsistencyReport) -> None:
    assert report.error is None, report.error
    assert dict(report.counts) == ds.EXPECTED
    assert dict(report.field_mismatches) == ds.EXPECTED_FIELDS


@pytest.mark.usefixtures("tables")
def test_postgres_channel(tmp_path: Path) -> None:
    ref = write_csv(tmp_path / "ref.csv", ds.reference(), ds.COLUMNS)
    report = check({"branch": {"kind": "csv", "path": str(ref), "updated_at": "updated_at"},
                    "app": {"kind": "postgres", "dsn": PG_DSN, "table": "public.ow_cons_chan",
                            "updated_at": "updated_at"}})
    assert_dataset(report)
    assert dict(report.rows_read) == {"branch": ds.REFERENCE_ROWS, "app": ds.CHANNEL_ROWS}


@pytest.mark.usefixtures("tables")
def test_postgres_reference_mysql_channel_full() -> None:
    report = check({"branch": PG_REF, "app": MY_CHAN})
    assert_dataset(report)
    assert report.mode == "full"


@pytest.mark.usefixtures("tables")
def test_checksum_mode_finds_the_same_differences() -> None:
    # Half of this small dataset differs: without a dense_ratio of 1 it would be streamed.
    report = check({"branch": PG_REF, "app": MY_CHAN}, mode="checksum",
                   checksum={"dense_ratio": 1})
    assert report.error is None, report.error
    assert report.mode == "checksum"
    assert dict(report.counts) == ds.EXPECTED
    assert dict(report.field_mismatches) == ds.EXPECTED_FIELDS
    assert report.rows_checksummed > 0
    assert report.rows_read["app"] < ds.CHANNEL_ROWS


@pytest.mark.usefixtures("tables")
def test_checksum_mode_streams_dense_differences_and_files(tmp_path: Path) -> None:
    report = check({"branch": PG_REF, "app": {"kind": "postgres", "dsn": PG_DSN,
                                              "table": "ow_cons_chan",
                                              "updated_at": "updated_at"}}, mode="checksum")
    assert report.mode == "checksum-dense-full"
    assert_dataset(report)
    chan = write_csv(tmp_path / "app.csv", ds.channel(), ds.COLUMNS)
    report = check({"branch": PG_REF, "app": {"kind": "csv", "path": str(chan),
                                              "updated_at": "updated_at"}}, mode="checksum")
    assert report.mode == "full"
    assert_dataset(report)


@pytest.mark.usefixtures("tables")
def test_sample_mode() -> None:
    report = check({"branch": PG_REF, "app": MY_CHAN}, mode="sample", sample_size=1000)
    assert report.error is None, report.error
    # Every reference key is drawn; keys only in the channel cannot be.
    assert dict(report.counts) == {
        Outcome.MATCH: 12, Outcome.MISMATCH: 3, Outcome.MISSING: 1, Outcome.EXTRA: 0,
        Outcome.INVALID: 3, Outcome.DUPLICATE_KEY: 1, Outcome.PENDING_SYNC: 2}
    assert report.interval is not None
    low, high = report.interval
    assert low < 12 / 20 < high


@pytest.mark.usefixtures("tables")
def test_incremental_since_a_watermark() -> None:
    cfg = build_consistency(ds.section({"branch": PG_REF, "app": MY_CHAN}))
    (report,) = run_check(cfg, now=ds.NOW, since=ds.NOW - timedelta(hours=1))
    assert report.error is None, report.error
    assert report.mode == "incremental"
    # Changed within the hour: C016 (reference), C017 and C023 (channel); all pending.
    assert report.counts[Outcome.PENDING_SYNC] == 3
    assert report.judged == 0
    assert report.next_watermark == ds.NOW - timedelta(minutes=10)
    (later,) = run_check(cfg, now=ds.NOW + timedelta(hours=1),
                         since=ds.NOW - timedelta(hours=1))
    assert later.counts[Outcome.MISSING] == 1
    assert later.counts[Outcome.EXTRA] == 1
    assert later.counts[Outcome.MISMATCH] == 1


@pytest.mark.usefixtures("tables")
def test_hash_fields_hashed_inside_both_databases(tmp_path: Path) -> None:
    salted = {"hash_fields": ["phone", "id_number", "email"], "hash_salt": "pepper-123"}
    report = check({"branch": PG_REF, "app": MY_CHAN}, **salted)
    assert report.error is None, report.error
    # C003's e-mail differs only in case: lower() in SQL; C020/C024 become mismatches.
    assert report.counts[Outcome.MATCH] == 12
    assert report.counts[Outcome.MISMATCH] == 5
    # The database digests equal Python's: a CSV copy of the channel agrees.
    chan = write_csv(tmp_path / "app.csv", ds.channel(), ds.COLUMNS)
    mixed = check({"branch": PG_REF, "app": {"kind": "csv", "path": str(chan),
                                             "updated_at": "updated_at"}}, **salted)
    assert mixed.counts[Outcome.MATCH] == 12
    assert mixed.counts[Outcome.MISMATCH] == 5


def test_hashed_values_never_leave_the_database(pg: psycopg.Connection[Any]) -> None:
    write_pg(pg, "ow_cons_ref", ds.reference(), ds.COLUMNS)
    try:
        cfg = build_consistency(ds.section({"branch": PG_REF, "app": MY_CHAN},
                                           hash_fields=["phone"], hash_salt="pepper-123"))
        src = open_source(cfg, cfg.source("branch"))
        first = next(iter(src.stream()))
        assert first.values[1] is not None
        assert len(first.values[1]) == 64
        assert "13800138000" not in repr(first)
    finally:
        pg.execute("DROP TABLE IF EXISTS ow_cons_ref")


@pytest.mark.usefixtures("tables")
def test_queries_are_used_as_given() -> None:
    report = check({
        "branch": {"kind": "postgres", "dsn": PG_DSN, "updated_at": "changed",
                   "query": "SELECT customer_id AS cid, name, phone, id_number, email, "
                            "birth_date, risk_level, balance, updated_at AS changed "
                            "FROM ow_cons_ref WHERE name NOT LIKE '%%never%' OR true",
                   "columns": {"customer_id": "cid"}},
        "app": {"kind": "mysql", "dsn": MYSQL_DSN, "updated_at": "updated_at",
                "query": "SELECT * FROM ow_cons_chan WHERE cust_no LIKE 'C%' OR cust_no IS NULL",
                "columns": {"customer_id": "cust_no"}},
    })
    assert_dataset(report)


def test_read_only_transaction(pg: psycopg.Connection[Any]) -> None:
    pg.execute("CREATE SEQUENCE IF NOT EXISTS ow_cons_seq")
    try:
        writer = {"kind": "postgres", "dsn": PG_DSN,
                  "query": "SELECT nextval('ow_cons_seq')::text AS customer_id, 'x' AS name, "
                           "NULL AS phone, NULL AS id_number, NULL AS email, "
                           "NULL AS birth_date, NULL AS risk_level, NULL AS balance"}
        report = check({"branch": writer, "app": MY_CHAN})
        assert report.error is not None
        assert "ReadOnlySqlTransaction (SQLSTATE 25006)" in report.error
    finally:
        pg.execute("DROP SEQUENCE IF EXISTS ow_cons_seq")


@pytest.mark.usefixtures("tables")
def test_statement_timeouts() -> None:
    slow_pg = {"kind": "postgres", "dsn": PG_DSN, "timeout": "300ms",
               "query": "SELECT r.* FROM ow_cons_ref r, pg_sleep(2)"}
    report = check({"branch": slow_pg, "app": MY_CHAN})
    assert report.error is not None
    assert report.error.startswith("source 'branch': timeout: ")
    slow_my = {**MY_CHAN, "timeout": "1s", "table": None,
               "query": "SELECT c.* FROM ow_cons_chan c WHERE SLEEP(0.5) = 0"}
    del slow_my["table"]
    report = check({"branch": PG_REF, "app": slow_my})
    assert report.error is not None
    assert report.error.startswith("source 'app': timeout: ")
    assert report.ratio is None


@pytest.mark.usefixtures("tables")
def test_unreachable_databases_fail_the_check() -> None:
    down = {**PG_REF, "dsn": "host=127.0.0.1 port=1 user=postgres"}
    for mode in ("full", "checksum", "sample"):
        report = check({"branch": down, "app": MY_CHAN}, mode=mode)
        assert report.error is not None
        assert report.error.startswith("source 'branch': connect: ")
        assert report.ratio is None
    report = check({"branch": PG_REF, "app": {**MY_CHAN, "dsn": "mysql://root@127.0.0.1:1/x"}})
    assert report.error is not None
    assert report.error.startswith("source 'app': connect: ")
    assert report.ratio is None


def test_postgres_killed_mid_stream(pg: psycopg.Connection[Any], tmp_path: Path) -> None:
    n = 50000
    rows = [ds.row(f"C{i:07d}") for i in range(1, n + 1)]
    ref = write_csv(tmp_path / "ref.csv", rows, ds.COLUMNS)
    big = {"kind": "postgres", "dsn": PG_DSN, "fetch_size": 100,
           "query": "SELECT 'C' || lpad(g::text, 7, '0') AS customer_id, 'Zhang San' AS name, "
                    "'13800138000' AS phone, '11010519491231002X' AS id_number, "
                    "'z.san@example.com' AS email, '1990-01-05' AS birth_date, "
                    "'3' AS risk_level, '100.00' AS balance "
                    f"FROM generate_series(1, {n}) g"}
    cfg = build_consistency(ds.section({"branch": {"kind": "csv", "path": str(ref)},
                                        "app": big}))
    (whole,) = run_check(cfg, now=ds.NOW)
    assert whole.error is None
    assert whole.counts[Outcome.MATCH] == n
    inner = open_source(cfg, cfg.source("app"))
    killed = threading.Event()

    class Killed:
        name = "app"

        def stream(self, since: datetime | None = None) -> Iterator[SourceRecord]:
            for i, rec in enumerate(inner.stream(since)):
                if i == 500 and not killed.is_set():
                    pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "application_name = 'omniwatch-consistency'")
                    killed.set()
                yield rec

        fetch = inner.fetch
        sample_keys = inner.sample_keys

    (report,) = run_check(cfg, now=ds.NOW, sources={"app": Killed()})
    assert killed.is_set()
    assert report.error is not None
    assert report.error.startswith("source 'app': lost: "), report.error
    assert report.ratio is None


def test_mysql_native_collation_order_fails_loudly(my: pymysql.Connection[Any],
                                                   pg: psycopg.Connection[Any]) -> None:
    rows = [{"customer_id": k, "name": "x"} for k in ("B", "a")]
    write_pg(pg, "ow_cons_ref", rows, ["customer_id", "name"])
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_ci")
        cur.execute("CREATE TABLE ow_cons_ci (customer_id VARCHAR(10) PRIMARY KEY, "
                    "name VARCHAR(10)) COLLATE utf8mb4_general_ci")
        cur.executemany("INSERT INTO ow_cons_ci VALUES (%s, 'x')", [("B",), ("a",)])
    try:
        sources = {"branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_ref"},
                   "app": {"kind": "mysql", "dsn": MYSQL_DSN, "table": "ow_cons_ci"}}
        cfg = build_consistency({"reference": "branch", "fields": ["name"],
                                 "sources": sources})
        (ok,) = run_check(cfg, now=ds.NOW)
        assert ok.error is None
        assert ok.counts[Outcome.MATCH] == 2
        sources["app"]["key_order"] = "native"  # 'a' < 'B' in a case-insensitive collation
        cfg = build_consistency({"reference": "branch", "fields": ["name"],
                                 "sources": sources})
        (bad,) = run_check(cfg, now=ds.NOW)
        assert bad.error is not None
        assert bad.error.startswith("source 'app': order: ")
    finally:
        pg.execute("DROP TABLE IF EXISTS ow_cons_ref")
        with my.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS ow_cons_ci")


@pytest.mark.usefixtures("tables")
def test_full_mode_in_worker_processes(tmp_path: Path) -> None:
    db = write_sqlite(tmp_path / "web.db", "customer", ds.channel(), ds.COLUMNS)
    cfg = build_consistency(ds.section({
        "branch": PG_REF, "app": MY_CHAN,
        "web": {"kind": "sqlite", "path": str(db), "table": "customer",
                "updated_at": "updated_at"},
    }, workers=3))
    reports = run_check(cfg, now=ds.NOW)
    for report in reports:
        assert_dataset(report)
        assert dict(report.rows_read) == {"branch": ds.REFERENCE_ROWS,
                                          report.channel: ds.CHANNEL_ROWS}
    ref = open_source(cfg, cfg.source("branch"))
    assert isinstance(ref, SqlSource)
    cuts = ref.split_keys(3)
    assert cuts == ["C008", "C015"]  # the 8th and 15th of 22 keys
    ranges = list(zip([None, *cuts], [*cuts, None], strict=True))
    assert sum(len(list(ref.stream_range(lo, hi))) for lo, hi in ranges) == ds.REFERENCE_ROWS


def test_driver_errors_do_not_quote_values(pg: psycopg.Connection[Any],
                                           my: pymysql.Connection[Any]) -> None:
    bad_pg = {"kind": "postgres", "dsn": PG_DSN,
              "query": "SELECT '13800138000'::int::text AS customer_id, 'x' AS name, "
                       "NULL AS phone, NULL AS id_number, NULL AS email, NULL AS birth_date, "
                       "NULL AS risk_level, NULL AS balance"}
    bad_my = {"kind": "mysql", "dsn": MYSQL_DSN,
              "query": "SELECT * FROM ow_cons_nowhere WHERE name = '13800138000'"}
    report = check({"branch": bad_pg, "app": bad_my})
    assert report.error is not None
    assert "13800138000" not in report.error
    assert report.error.startswith("source 'branch': query: ")
    report = check({"branch": PG_REF | {"table": "ow_cons_nowhere"}, "app": bad_my})
    assert report.error is not None
