"""Checksum mode at scale: bisection finds exactly the injected differences."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.model import Outcome
from monitor.consistency.run import run_check
from tests.consistency import dataset as ds
from tests.consistency.conftest import MYSQL_DSN, PG_DSN

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

N = 20000
CHANGED = [17, 4242, 4243, 9000, 12345, 19999, 20000]  # names differ
DELETED = [1, 777, 15000]  # missing from the channel
EXTRA = [20001, 20002]  # only in the channel
NORMALISED = [50, 51, 52]  # differ in raw text, equal after normalisation


@pytest.fixture
def big(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]) -> Iterator[None]:
    pg.execute("DROP TABLE IF EXISTS ow_cons_big")
    pg.execute('CREATE TABLE ow_cons_big (customer_id text COLLATE "C" PRIMARY KEY, '
               "name text, phone text, risk_level text)")
    pg.execute("INSERT INTO ow_cons_big SELECT 'C' || lpad(g::text, 7, '0'), 'Name ' || g, "
               "'138' || lpad(g::text, 8, '0'), 'R' || (g % 5 + 1) "
               f"FROM generate_series(1, {N}) g")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_big")
        cur.execute("CREATE TABLE ow_cons_big (cust_no VARCHAR(16) COLLATE utf8mb4_bin "
                    "PRIMARY KEY, name VARCHAR(64), phone VARCHAR(32), risk_level VARCHAR(8)) "
                    "CHARACTER SET utf8mb4")
        cur.execute("INSERT INTO ow_cons_big SELECT CONCAT('C', LPAD(seq, 7, '0')), "
                    "CONCAT('Name ', seq), CONCAT('138', LPAD(seq, 8, '0')), "
                    f"CONCAT('R', seq % 5 + 1) FROM seq_1_to_{N}")
        key = "CONCAT('C', LPAD(%s, 7, '0'))"
        for i in CHANGED:
            cur.execute(f"UPDATE ow_cons_big SET name = 'Someone Else' WHERE cust_no = {key}",
                        (i,))
        for i in DELETED:
            cur.execute(f"DELETE FROM ow_cons_big WHERE cust_no = {key}", (i,))
        for i in EXTRA:
            cur.execute(f"INSERT INTO ow_cons_big VALUES ({key}, 'x', '13800000000', '1')",
                        (i,))
        for i in NORMALISED:
            cur.execute(f"UPDATE ow_cons_big SET phone = CONCAT('+86 ', phone), "
                        f"risk_level = SUBSTRING(risk_level, 2) WHERE cust_no = {key}", (i,))
    yield
    pg.execute("DROP TABLE IF EXISTS ow_cons_big")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_big")


EXPECTED = {
    Outcome.MATCH: N - len(CHANGED) - len(DELETED), Outcome.MISMATCH: len(CHANGED),
    Outcome.MISSING: len(DELETED), Outcome.EXTRA: len(EXTRA), Outcome.INVALID: 0,
    Outcome.DUPLICATE_KEY: 0, Outcome.PENDING_SYNC: 0,
}


def config(**checksum: Any) -> Any:
    return build_consistency({
        "reference": "branch", "fields": ["name", "phone", "risk_level"],
        "checksum": checksum, "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_big"},
            "app": {"kind": "mysql", "dsn": MYSQL_DSN, "table": "ow_cons_big",
                    "columns": {"customer_id": "cust_no"}, "key_order": "native"},
        }})


@pytest.mark.usefixtures("big")
@pytest.mark.parametrize("tuning", [
    {},  # one level: 4096 segments of a few rows, then per-row hashes
    {"segments": 64, "max_fetch_rows": 16, "split_factor": 4},  # four bisection levels
    {"segments": 64, "fetch_batch_segments": 3},  # many small hash queries
])
def test_checksum_finds_exactly_the_injected_differences(tuning: dict[str, int]) -> None:
    (report,) = run_check(config(**tuning), mode="checksum", now=ds.NOW)
    assert report.error is None, report.error
    assert report.mode == "checksum"
    assert dict(report.counts) == EXPECTED
    assert dict(report.field_mismatches) == {"name": len(CHANGED)}
    differing = len(CHANGED) + len(DELETED) + len(EXTRA) + len(NORMALISED)
    # Only the differing rows are fetched: changed, extra and reformatted on the channel;
    # changed, deleted and reformatted on the reference.
    assert report.rows_read == {"branch": differing - len(EXTRA),
                                "app": differing - len(DELETED)}
    assert report.rows_checksummed == N - len(CHANGED) - len(DELETED) - len(NORMALISED)


@pytest.mark.usefixtures("big")
def test_full_mode_agrees() -> None:
    (report,) = run_check(config(), mode="full", now=ds.NOW)
    assert dict(report.counts) == EXPECTED
    assert report.rows_read == {"branch": N, "app": N - len(DELETED) + len(EXTRA)}


@pytest.mark.usefixtures("big")
def test_dense_differences_fall_back_to_streaming() -> None:
    # dense_ratio bounds the differing *keys* (15 here): above it, fetching row by row
    # would cost more than streaming the pair.
    (report,) = run_check(config(segments=4, dense_ratio=0.0005), mode="checksum",
                          now=ds.NOW)
    assert report.mode == "checksum-dense-full"
    assert dict(report.counts) == EXPECTED
