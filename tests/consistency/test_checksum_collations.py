"""Checksum mode over key ranges on the collations real databases use: MariaDB
``utf8mb4_general_ci``/``utf8mb4_unicode_ci`` (case-insensitive, PAD SPACE) and a
PostgreSQL ICU collation, keys whose order differs between the two sides, case-only
key differences and trailing spaces; exact counts in full, checksum and sample modes."""

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
from tests.support import require

Row = tuple[str, str, str | None]
TABLE = "ow_cons_coll"
PG_COLLATIONS = ("und-x-icu", "en-US-x-icu", "en_US.utf8", "en_US.UTF-8")
# Orders differ between bytes, ICU and MariaDB's weights: punctuation, case, digits
# before or after letters, accents, trailing blanks (PAD SPACE: 'x' = 'x ').
SPECIAL = ["a", "A", "a-b", "a_b", "A-B", "ab", "c001", "C001", "x", "x ", "é1", "E1",
           "1a", "a1", "Z", "z-", "_z"]


def _keys() -> list[str]:
    forms = ("K{:04d}", "k{:04d}-x", "k_{}", "{}a", "a-b{}", "A_B{}", "{}")
    return SPECIAL + [forms[i % len(forms)].format(i) for i in range(1400)]


def _data(ascii_only: bool = False) -> tuple[list[Row], list[Row]]:
    keys = [k for k in _keys() if k.isascii() or not ascii_only]
    ref: list[Row] = [(k, f"Name {i}", "13800000000") for i, k in enumerate(keys)]
    chan: list[Row] = []
    for i, (k, n, p) in enumerate(ref):
        if k in ("C001", "x ", "a_b") or i % 97 == 5:
            continue  # missing; its case/blank variant 'c001'/'x' stays: never merged
        chan.append((k, "Other" if k in ("A", "é1") or i % 89 == 7 else n, p))
    chan += [chan[30],  # a second, identical copy: duplicate_key
             ("c002", "x", None), ("X  ", "y", None)]  # extra (note 'X  ' vs 'x')
    return ref, chan


def _expected(ref: list[Row], chan: list[Row]
              ) -> dict[Outcome, int]:
    """The outcomes by exact key text: what a brute-force dict comparison says."""
    a: dict[str, list[tuple[str, str | None]]] = {}
    b: dict[str, list[tuple[str, str | None]]] = {}
    for side, rows in ((a, ref), (b, chan)):
        for k, n, p in rows:
            side.setdefault(k, []).append((n, p))
    counts = dict.fromkeys(Outcome, 0)
    for k in a.keys() | b.keys():
        if len(a.get(k, [])) > 1 or len(b.get(k, [])) > 1:
            counts[Outcome.DUPLICATE_KEY] += 1
        elif k not in b:
            counts[Outcome.MISSING] += 1
        elif k not in a:
            counts[Outcome.EXTRA] += 1
        else:
            counts[Outcome.MATCH if a[k] == b[k] else Outcome.MISMATCH] += 1
    return counts


def _pg_collation(pg: psycopg.Connection[Any]) -> str:
    have = {r[0] for r in pg.execute("SELECT collname FROM pg_collation")}
    found = [c for c in PG_COLLATIONS if c in have]
    require(bool(found), "PostgreSQL has none of the collations " + ", ".join(PG_COLLATIONS))
    return found[0]


# ascii_bin: a key in another character set than the connection's text (and PAD SPACE).
@pytest.fixture(params=["utf8mb4_general_ci", "utf8mb4_unicode_ci", "ascii_bin"])
def tables(request: pytest.FixtureRequest, pg: psycopg.Connection[Any],
           my: pymysql.Connection[Any]) -> Iterator[str]:
    ref, chan = _data(request.param == "ascii_bin")
    coll = _pg_collation(pg)
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    pg.execute(f'CREATE TABLE {TABLE} (customer_id text COLLATE "{coll}", name text, '
               "phone text)")
    pg.execute(f"CREATE INDEX {TABLE}_key ON {TABLE} (customer_id)")
    with pg.cursor() as cur:
        cur.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)", ref)
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        # A plain index: a case-insensitive unique key could not hold 'c001' and 'C001'.
        charset = request.param.split("_")[0]
        cur.execute(f"CREATE TABLE {TABLE} (customer_id VARCHAR(32) CHARACTER SET {charset} "
                    f"COLLATE {request.param},"
                    " name VARCHAR(64), phone VARCHAR(32), KEY (customer_id)) "
                    "CHARACTER SET utf8mb4")
        cur.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)", chan)
    yield request.param
    pg.execute(f"DROP TABLE IF EXISTS {TABLE}")
    with my.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {TABLE}")


def config(reference: str, **checksum: Any) -> Any:
    return build_consistency({
        "reference": reference, "fields": ["name", "phone"], "checksum": checksum,
        "sample_size": 10_000,
        "sources": {"branch": {"kind": "postgres", "dsn": PG_DSN, "table": TABLE},
                    "app": {"kind": "mysql", "dsn": MYSQL_DSN, "table": TABLE}}})


def _swap(counts: dict[Outcome, int]) -> dict[Outcome, int]:
    out = dict(counts)
    out[Outcome.MISSING], out[Outcome.EXTRA] = counts[Outcome.EXTRA], counts[Outcome.MISSING]
    return out


TUNINGS = [{}, {"segments": 16}, {"segments": 300},
           {"segments": 64, "max_fetch_rows": 10, "fetch_batch_segments": 5}]


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("reference", ["branch", "app"])
@pytest.mark.parametrize("tuning", TUNINGS, ids=["default", "16", "300-probe", "64-batched"])
def test_key_ranges_are_exact_whatever_the_collations(
        tables: str, reference: str, tuning: dict[str, int]) -> None:
    ref, chan = _data(tables == "ascii_bin")
    expected = _expected(ref, chan) if reference == "branch" else _swap(_expected(ref, chan))
    assert expected[Outcome.DUPLICATE_KEY] == 1
    assert expected[Outcome.MISSING] + expected[Outcome.EXTRA] > 10
    cfg = config(reference, **tuning)
    assert all(open_source(cfg, s).range_capable()  # type: ignore[attr-defined]
               for s in cfg.sources)
    (report,) = run_check(cfg, mode="checksum", now=ds.NOW)
    assert report.error is None, report.error
    assert report.mode == "checksum"
    assert dict(report.counts) == expected
    assert sum(report.rows_read.values()) < 100  # only the differing keys were fetched
    (full,) = run_check(cfg, mode="full", now=ds.NOW)
    assert full.error is None, full.error
    assert dict(full.counts) == expected


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("reference", ["branch", "app"])
def test_sample_mode_agrees_on_every_sampled_key(tables: str, reference: str) -> None:
    ref, chan = _data(tables == "ascii_bin")
    expected = _expected(ref, chan) if reference == "branch" else _swap(_expected(ref, chan))
    (report,) = run_check(config(reference), mode="sample", now=ds.NOW, seed=1)
    assert report.error is None, report.error
    # Every reference key is sampled (sample_size exceeds them); 'extra' cannot be seen.
    assert dict(report.counts) == {**expected, Outcome.EXTRA: 0}
