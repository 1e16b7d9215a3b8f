"""Checksum mode over key ranges, edge cases end to end (NULL and duplicate keys,
non-ASCII keys, a key column without an index); the pure list comparison is tested in
``test_reconcile.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.model import Outcome
from monitor.consistency.run import run_check
from monitor.consistency.sources import open_source
from tests.consistency import dataset as ds
from tests.consistency.conftest import MYSQL_DSN, PG_DSN

N = 3000
KEYS = [f"C{i:05d}" for i in range(1, N + 1)] + ["Ca", "Cé", "C中", "C😀"]


@pytest.fixture
def tables(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]) -> Iterator[None]:
    ref = [(k, f"Name {k}", "13800000000") for k in KEYS] + [(None, "nobody", None)]
    chan = [r for r in ref if r[0] not in ("C00007", "Cé")]  # missing
    chan = [(k, "Other" if k in ("C00100", "C中") else n, p) for k, n, p in chan]  # mismatch
    chan += [("C00200", "Name C00200", "13800000000"),  # duplicated on the channel
             ("C99999", "x", None), (None, "nobody either", None)]  # extra, 2nd NULL key
    pg.execute("DROP TABLE IF EXISTS ow_cons_rng")
    pg.execute('CREATE TABLE ow_cons_rng (customer_id text COLLATE "C", name text, phone text)')
    pg.execute("CREATE INDEX ow_cons_rng_key ON ow_cons_rng (customer_id)")
    with pg.cursor() as cur:
        cur.executemany("INSERT INTO ow_cons_rng VALUES (%s, %s, %s)", ref)
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_rng")
        cur.execute("CREATE TABLE ow_cons_rng (customer_id VARCHAR(16) COLLATE utf8mb4_bin, "
                    "name VARCHAR(64), phone VARCHAR(32), KEY (customer_id)) "
                    "CHARACTER SET utf8mb4")
        cur.executemany("INSERT INTO ow_cons_rng VALUES (%s, %s, %s)", chan)
    yield
    pg.execute("DROP TABLE IF EXISTS ow_cons_rng")
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cons_rng")


def config(**checksum: Any) -> Any:
    return build_consistency({
        "reference": "branch", "fields": ["name", "phone"], "checksum": checksum,
        "sources": {"branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_rng"},
                    "app": {"kind": "mysql", "dsn": MYSQL_DSN, "table": "ow_cons_rng"}}})


EXPECTED = {Outcome.MATCH: len(KEYS) - 5, Outcome.MISMATCH: 2, Outcome.MISSING: 2,
            Outcome.EXTRA: 1, Outcome.INVALID: 3, Outcome.DUPLICATE_KEY: 1,
            Outcome.PENDING_SYNC: 0}


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize("tuning", [{}, {"segments": 7}, {"segments": 64, "max_fetch_rows": 10,
                                                        "fetch_batch_segments": 5}])
def test_key_ranges_find_exactly_the_differences(tuning: dict[str, int]) -> None:
    cfg = config(**tuning)
    assert all(open_source(cfg, s).range_capable()  # type: ignore[attr-defined]
               for s in cfg.sources)
    (report,) = run_check(cfg, mode="checksum", now=ds.NOW)
    assert report.error is None, report.error
    assert report.mode == "checksum"
    assert dict(report.counts) == EXPECTED
    (full,) = run_check(cfg, mode="full", now=ds.NOW)
    assert dict(full.counts) == EXPECTED
    assert report.rows_read["app"] < 20  # differing keys and NULL keys only


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.usefixtures("tables")
def test_a_key_without_an_index_uses_hash_segments(my: pymysql.Connection[Any]) -> None:
    with my.cursor() as cur:
        cur.execute("ALTER TABLE ow_cons_rng DROP INDEX customer_id")
    cfg = config()
    assert not open_source(cfg, cfg.sources[1]).range_capable()  # type: ignore[attr-defined]
    (report,) = run_check(cfg, mode="checksum", now=ds.NOW)
    assert report.error is None, report.error
    assert dict(report.counts) == EXPECTED
