"""Progress reports of real checks (issue 11 §4): the counts they give are exact.

A PostgreSQL reference against a MariaDB channel (checksum mode over key ranges and over
hash segments, full mode on two worker processes) and two SQLite files (full mode in
one process), each with a known number of rows and of differing keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.model import Outcome
from monitor.consistency.progress import (
    EVERY_ROWS,
    FETCHING,
    FINISHED,
    HASHING,
    STREAMING,
    CheckProgress,
)
from monitor.consistency.run import estimate_rows, run_check
from monitor.consistency.sources import open_source
from tests.consistency.conftest import MYSQL_DSN, PG_DSN

N = 3000
# The name differs on the channel: spread, so that some fall outside the probed ranges.
CHANGED = {f"C{i:05d}" for i in range(10, N, 270)}
GONE = {"C00400"}  # missing on the channel
TABLE = "ow_c11_progress"  # its own name: other checks may run against the same databases


def rows() -> list[tuple[str, str, str]]:
    return [(f"C{i:05d}", f"Name {i}", "13800000000") for i in range(1, N + 1)]


def channel_rows() -> list[tuple[str, str, str]]:
    return [(k, "Other" if k in CHANGED else n, p) for k, n, p in rows() if k not in GONE]


@pytest.fixture
def tables(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]) -> Iterator[None]:
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    pg.execute(f"CREATE TABLE {TABLE} (customer_id text PRIMARY KEY, name text, phone text)")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)", rows())
    pg.execute(f"ANALYZE {TABLE}")  # reltuples: the estimate full mode shows
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}_ch")
    pg.execute(f"CREATE TABLE {TABLE}_ch (customer_id text PRIMARY KEY, name text, phone text)")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {TABLE}_ch VALUES (%s, %s, %s)", channel_rows())
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cur.execute(f"CREATE TABLE {TABLE} (customer_id VARCHAR(16) PRIMARY KEY, "
                    "name VARCHAR(64), phone VARCHAR(32)) CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_general_ci")
        cur.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)", channel_rows())
        cur.execute(f"ANALYZE TABLE {TABLE}")
        cur.fetchall()
    yield
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}, {TABLE}_ch")
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def db_config(*, query: bool = False, channel: str = "mysql", **extra: Any) -> Any:
    def source(kind: str, dsn: str, table: str) -> dict[str, Any]:
        if query:  # not a table: hash segments, and no catalog estimate
            return {"kind": kind, "dsn": dsn,
                    "query": f"SELECT customer_id, name, phone FROM {table}"}
        return {"kind": kind, "dsn": dsn, "table": table}
    app = (source("mysql", MYSQL_DSN, TABLE) if channel == "mysql"
           else source("postgres", PG_DSN, f"{TABLE}_ch"))
    return build_consistency({
        "reference": "branch", "fields": ["name", "phone"],
        "sources": {"branch": source("postgres", PG_DSN, TABLE), "app": app},
        **extra}, "test", Path.cwd())


def check(config: Any, mode: str) -> tuple[Any, list[CheckProgress]]:
    seen: list[CheckProgress] = []
    (report,) = run_check(config, mode=mode, progress=seen.append)
    assert report.error is None
    assert report.counts[Outcome.MISMATCH] == len(CHANGED)
    assert report.counts[Outcome.MISSING] == len(GONE)
    assert seen[-1] == CheckProgress(("app",), FINISHED, 0)
    return report, seen[:-1]


def last(seen: list[CheckProgress], phase: str) -> CheckProgress:
    return [p for p in seen if p.phase == phase][-1]


@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize("channel", ["postgres", "mysql"])
def test_checksum_over_key_ranges_counts_relisted_ranges_as_more_work(channel: str) -> None:
    # 200 ranges of 15 rows: 64 probed (listed), the rest summed (the probe's
    # differences are sparse: MariaDB's lists in another order are no difference), and
    # the differing ones listed again, which adds to the work to do.
    _, seen = check(db_config(channel=channel,
                              checksum={"segments": 200, "max_fetch_rows": 100}), "checksum")
    hashing = [p for p in seen if p.phase == HASHING]
    assert hashing[0] == CheckProgress(("app",), HASHING, 0, N, 0, 200)  # N: a count
    end = hashing[-1]
    assert end.done == end.total
    assert end.ranges_done == end.ranges_total
    assert [p.done for p in hashing] == sorted(p.done for p in hashing)
    # The differing keys: the changed and the missing ones, fetched and compared.
    differing = len(CHANGED) + len(GONE)
    assert last(seen, FETCHING) == CheckProgress(("app",), FETCHING, differing, differing)
    assert seen.index(last(seen, FETCHING)) > seen.index(end)
    assert end.total is not None
    assert N < end.total < 2 * N  # the rows of the differing ranges, a second time
    assert 200 < end.ranges_total <= 200 + differing  # type: ignore[operator]


@pytest.mark.usefixtures("tables")
def test_checksum_over_hash_segments_reports_the_reference_rows() -> None:
    _, seen = check(db_config(query=True, checksum={"segments": 64}), "checksum")
    end = last(seen, HASHING)
    assert (end.done, end.total, end.ranges_done, end.ranges_total) == (N, N, 64, 64)
    assert last(seen, FETCHING).done == len(CHANGED) + len(GONE)
    assert last(seen, FETCHING).total is None


@pytest.mark.usefixtures("tables")
def test_full_mode_on_two_workers_sums_their_rows_exactly() -> None:
    _, seen = check(db_config(workers=2), "full")
    streaming = [p for p in seen if p.phase == STREAMING]
    assert streaming
    assert all(p.channels == ("app",) for p in streaming)
    assert streaming[-1].done == N
    assert streaming[-1].total == N  # reltuples after ANALYZE: exact on a small table


def test_full_mode_in_one_process_counts_sqlite_rows(tmp_path: Path) -> None:
    n = 2 * EVERY_ROWS + 5  # two reports on the way, then the exact end
    for name, data in (("ref.db", [(f"K{i:06d}", "a") for i in range(n)]),
                       ("ch.db", [(f"K{i:06d}", "b" if i == 7 else "a") for i in range(n)])):
        with sqlite3.connect(tmp_path / name) as db:
            db.execute("CREATE TABLE t (customer_id TEXT PRIMARY KEY, name TEXT)")
            db.executemany("INSERT INTO t VALUES (?, ?)", data)
        db.close()
    config = build_consistency({
        "reference": "branch", "fields": ["name"],
        "sources": {"branch": {"kind": "sqlite", "path": "ref.db", "table": "t"},
                    "app": {"kind": "sqlite", "path": "ch.db", "table": "t"}}},
        "test", tmp_path)
    seen: list[CheckProgress] = []
    (report,) = run_check(config, mode="full", progress=seen.append)
    assert report.counts[Outcome.MISMATCH] == 1
    assert seen == [CheckProgress(("app",), STREAMING, d, n)
                    for d in (0, EVERY_ROWS, 2 * EVERY_ROWS, n)] + [
        CheckProgress(("app",), FINISHED, 0)]


@pytest.mark.usefixtures("tables")
def test_row_estimates_come_from_each_catalog() -> None:
    for query in (False, True):
        config = db_config(query=query)
        pg, my = (open_source(config, s) for s in config.sources)
        if query:  # a query's rows are nobody's estimate
            assert (estimate_rows(pg), estimate_rows(my)) == (None, None)
            continue
        assert estimate_rows(pg) == N  # reltuples, exact after ANALYZE on a small table
        estimate = estimate_rows(my)  # InnoDB's TABLE_ROWS: an estimate, not a count
        assert estimate is not None
        assert 0.5 * N < estimate < 1.5 * N
