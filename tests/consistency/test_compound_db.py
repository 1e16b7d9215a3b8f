"""Compound keys against the real databases: a PostgreSQL reference, MariaDB, SQLite and
PostgreSQL channels, in full, checksum and sample modes, with exact outcome counts.

The data puts every outcome under two-part and three-part keys, key parts that sort
differently as text and as numbers ('10' < '2' by bytes), NULL key parts, and key parts
that would collide if the parts were simply joined: ('a|b', 'c') vs ('a', 'b|c'), and
the same with U+001F, the separator of the databases' canonical row text.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.model import ConsistencyConfig, ConsistencyReport, Outcome
from monitor.consistency.run import run_check
from tests.consistency.conftest import MYSQL_DSN, PG_DSN
from tests.consistency.dataset import NOW
from tests.consistency.keyed_tables import drop_my, drop_pg, lite_table, my_table, pg_table

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

OLD = NOW - timedelta(days=30)
RECENT = NOW - timedelta(minutes=5)  # inside the 10m grace window
US = "\x1f"
PHONE = "13800138000"

TWO = [("branch_id", "text"), ("customer_id", "text"), ("name", "text"), ("phone", "text"),
       ("updated_at", "ts")]
TWO_REF = [
    ("B1", "C1", "Zhang San", PHONE, OLD),
    ("B1", "C2", "Li Si", PHONE, OLD),
    ("B1", "C3", "Wang Wu", PHONE, OLD),
    ("B2", "C1", "Zhao Liu", PHONE, OLD),
    ("2", "X", "Sun Qi", PHONE, OLD),
    ("10", "X", "Zhou Ba", PHONE, OLD),
    ("B1", "C5", "Wu Jiu", PHONE, OLD),
    ("B1", "C6", "Zheng Shi", PHONE, OLD),
    ("B1", "C7", "Qian Yi", PHONE, OLD),
    ("a|b", "c", "Feng Er", PHONE, OLD),
    (f"a{US}b", "c", "Chen San", PHONE, OLD),
]
TWO_CHAN = [
    ("B1", "C1", "Zhang San", PHONE, OLD),
    ("B1", "C2", "Li Wu", PHONE, OLD),  # mismatch
    ("B2", "C1", "Zhao Liu", PHONE, OLD),
    ("2", "X", "Sun Qi", PHONE, OLD),
    ("10", "X", "Zhou Ba", PHONE, OLD),
    ("B1", "C5", "Wu Jiu", PHONE, OLD),  # duplicate_key
    ("B1", "C5", "Wu Jiu", PHONE, OLD),
    ("B1", "C6", "Zheng Shi Yi", PHONE, RECENT),  # pending_sync
    ("B1", "C7", "Qian Yi", "abc", OLD),  # invalid phone
    ("a", "b|c", "Feng Er", PHONE, OLD),  # extra; ('a|b', 'c') is missing
    ("a", f"b{US}c", "Chen San", PHONE, OLD),  # invalid key part; so is ('a\x1fb', 'c')
    ("B3", None, "Jiang Si", PHONE, OLD),  # invalid: NULL key part
    ("B9", "C1", "He Wu", PHONE, OLD),  # extra
    ("B1", "c1", "Zhang San", PHONE, OLD),  # extra: case differs only (MariaDB _ci)
]
TWO_EXPECTED = {Outcome.MATCH: 4, Outcome.MISMATCH: 1, Outcome.MISSING: 2, Outcome.EXTRA: 3,
                Outcome.INVALID: 4, Outcome.DUPLICATE_KEY: 1, Outcome.PENDING_SYNC: 1}
# Sample mode draws reference keys only: no extra, no channel-only invalid key.
TWO_SAMPLED = {**TWO_EXPECTED, Outcome.EXTRA: 0, Outcome.INVALID: 2}

THREE = [("branch_id", "text"), ("seq", "int"), ("customer_id", "text"), ("name", "text"),
         ("phone", "text"), ("updated_at", "ts")]
THREE_REF = [
    ("B1", 1, "C1", "Zhang San", PHONE, OLD),
    ("B1", 2, "C1", "Li Si", PHONE, OLD),
    ("B1", 10, "C1", "Wang Wu", PHONE, OLD),
    ("B1", 10, "C2", "Zhao Liu", PHONE, OLD),
    ("B2", 2, "C1", "Sun Qi", PHONE, OLD),
    ("B3", 10, "C9", "Zhou Ba", PHONE, RECENT),
]
THREE_CHAN = [
    ("B1", 1, "C1", "Zhang San", PHONE, OLD),
    ("B1", 2, "C1", "Li Si", PHONE, OLD),
    ("B1", 10, "C1", "Wang Liu", PHONE, OLD),  # mismatch; (B1, 10, C2) is missing
    ("B1", 9, "C1", "Wu Jiu", PHONE, OLD),  # extra, sorts after (B1, 10, ...) as text
    ("B1", None, "C1", "Zheng Shi", PHONE, OLD),  # invalid: NULL key part
    ("B2", 2, "C1", "Sun Qi", PHONE, OLD),  # duplicate_key
    ("B2", 2, "C1", "Sun Qi", PHONE, OLD),
    ("B3", 10, "C9", "Zhou Jiu", PHONE, OLD),  # pending_sync: the reference changed
]
THREE_EXPECTED = {Outcome.MATCH: 2, Outcome.MISMATCH: 1, Outcome.MISSING: 1, Outcome.EXTRA: 1,
                  Outcome.INVALID: 1, Outcome.DUPLICATE_KEY: 1, Outcome.PENDING_SYNC: 1}
THREE_SAMPLED = {**THREE_EXPECTED, Outcome.EXTRA: 0, Outcome.INVALID: 0}

CHANNELS = ("mysql", "sqlite", "postgres")


@pytest.fixture
def tables(pg: psycopg.Connection[Any], my: pymysql.Connection[Any],
           tmp_path: Path) -> Iterator[Path]:
    """The two-part-key tables as ``ow_ck2_*`` and the three-part ones as ``ow_ck3_*``."""
    pg_table(pg, "ow_ck2_ref", TWO, TWO_REF)
    pg_table(pg, "ow_ck2_chan", TWO, TWO_CHAN)
    pg_table(pg, "ow_ck3_ref", THREE, THREE_REF)
    pg_table(pg, "ow_ck3_chan", THREE, THREE_CHAN)
    my_table(my, "ow_ck2_chan", TWO, TWO_CHAN)
    my_table(my, "ow_ck3_chan", THREE, THREE_CHAN)
    db = tmp_path / "web.db"
    lite_table(db, "ow_ck2_chan", TWO, TWO_CHAN)
    lite_table(db, "ow_ck3_chan", THREE, THREE_CHAN)
    yield db
    drop_pg(pg, "ow_ck2_ref", "ow_ck2_chan", "ow_ck3_ref", "ow_ck3_chan")
    drop_my(my, "ow_ck2_chan", "ow_ck3_chan")


def config(db: Path, channel: str, parts: int, **extra: Any) -> ConsistencyConfig:
    table = f"ow_ck{parts}_chan"
    kinds = {"mysql": {"kind": "mysql", "dsn": MYSQL_DSN},
             "sqlite": {"kind": "sqlite", "path": str(db)},
             "postgres": {"kind": "postgres", "dsn": PG_DSN}}
    key = ["branch_id", "customer_id"] if parts == 2 else ["branch_id", "seq", "customer_id"]
    return build_consistency({
        "reference": "branch", "key": key, "fields": ["name", "phone"], "grace": "10m",
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": f"ow_ck{parts}_ref",
                       "updated_at": "updated_at"},
            "app": {**kinds[channel], "table": table, "updated_at": "updated_at"},
        }, **extra})


def check(cfg: ConsistencyConfig, mode: str) -> ConsistencyReport:
    (report,) = run_check(cfg, mode=mode, now=NOW, seed=7)
    assert report.error is None, report.error
    return report


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("parts", [2, 3])
def test_full_mode(tables: Path, channel: str, parts: int) -> None:
    report = check(config(tables, channel, parts), "full")
    assert dict(report.counts) == (TWO_EXPECTED if parts == 2 else THREE_EXPECTED)
    assert dict(report.field_mismatches) == {"name": 1}
    rows = (len(TWO_REF), len(TWO_CHAN)) if parts == 2 else (len(THREE_REF), len(THREE_CHAN))
    assert dict(report.rows_read) == {"branch": rows[0], "app": rows[1]}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("parts", [2, 3])
def test_checksum_mode_agrees_with_full(tables: Path, channel: str, parts: int) -> None:
    # Half of these rows differ: dense_ratio 1 keeps the checksum path from streaming.
    report = check(config(tables, channel, parts, checksum={"dense_ratio": 1}), "checksum")
    assert dict(report.counts) == (TWO_EXPECTED if parts == 2 else THREE_EXPECTED)
    assert dict(report.field_mismatches) == {"name": 1}
    if channel == "sqlite":  # no md5 in SQLite: the pair is streamed
        assert report.mode == "full"
    else:
        assert report.mode == "checksum"
        assert report.rows_checksummed > 0


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("parts", [2, 3])
def test_sample_mode(tables: Path, channel: str, parts: int) -> None:
    report = check(config(tables, channel, parts, sample_size=1000), "sample")
    assert dict(report.counts) == (TWO_SAMPLED if parts == 2 else THREE_SAMPLED)


@pytest.mark.parametrize("channel", ["mysql", "postgres"])
@pytest.mark.parametrize(("ref_key", "chan_key"), [
    (("a|b", "c"), ("a", "b|c")),  # the separator of keys shown in samples
    ((f"a{US}b", "c"), ("a", f"b{US}c")),  # the separator of the databases' row text
    (("1:a", "b"), ("1", "a:b")),  # the length prefix's own separator
])
def test_checksum_keys_whose_joined_parts_are_equal_do_not_collide(
        pg: psycopg.Connection[Any], my: pymysql.Connection[Any], tmp_path: Path,
        channel: str, ref_key: tuple[str, str], chan_key: tuple[str, str]) -> None:
    # The same row under two keys whose parts, joined by U+001F, gave the same text: one
    # key hash and one row hash, so equal segment checksums, and checksum mode counted a
    # match where full mode sees two different keys (one on each side).
    same = [("B1", f"C{i}", "Zhang San", PHONE, OLD) for i in range(4)]  # not dense
    pg_table(pg, "ow_ck2_ref", TWO, [*same, (*ref_key, "Feng Er", PHONE, OLD)])
    chan = [*same, (*chan_key, "Feng Er", PHONE, OLD)]
    if channel == "mysql":
        my_table(my, "ow_ck2_chan", TWO, chan)
    else:
        pg_table(pg, "ow_ck2_chan", TWO, chan)
    try:
        cfg = config(tmp_path, channel, 2, checksum={"dense_ratio": 1})
        full, summed = check(cfg, "full"), check(cfg, "checksum")
        # A control character makes a key part invalid; otherwise missing and extra.
        expected = ({Outcome.MATCH: 4, Outcome.INVALID: 2} if US in ref_key[0]
                    else {Outcome.MATCH: 4, Outcome.MISSING: 1, Outcome.EXTRA: 1})
        assert dict(full.counts) == {**dict.fromkeys(Outcome, 0), **expected}
        assert summed.mode == "checksum"
        assert dict(summed.counts) == dict(full.counts)
    finally:
        drop_pg(pg, "ow_ck2_ref", "ow_ck2_chan")
        drop_my(my, "ow_ck2_chan")


@pytest.mark.parametrize("channel", ["mysql", "postgres"])
def test_identical_tables_are_matched_by_checksums_alone(
        pg: psycopg.Connection[Any], my: pymysql.Connection[Any], tmp_path: Path,
        channel: str) -> None:
    # Both databases must write the same length-prefixed key text (code points, not
    # bytes, for non-ASCII parts; integers as decimal text): then no row is read.
    rows = [("北京", 2, "C1", "Zhang San", PHONE, OLD), ("北京", 10, "C1", "Li Si", PHONE, OLD),
            ("B1", 2, "C2\u00e9", "Wang Wu", PHONE, OLD), ("B1", -3, "C3", "Zhao Liu", None, OLD)]
    pg_table(pg, "ow_ck3_ref", THREE, rows)
    if channel == "mysql":
        my_table(my, "ow_ck3_chan", THREE, rows)
    else:
        pg_table(pg, "ow_ck3_chan", THREE, rows)
    try:
        report = check(config(tmp_path, channel, 3), "checksum")
        assert report.mode == "checksum"
        assert report.counts[Outcome.MATCH] == len(rows)
        assert report.rows_checksummed == len(rows)
        assert report.rows_read.get("app", 0) == 0
    finally:
        drop_pg(pg, "ow_ck3_ref", "ow_ck3_chan")
        drop_my(my, "ow_ck3_chan")
