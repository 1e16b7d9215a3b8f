"""Incremental runs (``since`` a watermark) with compound keys against the real databases.

What an incremental run can see: keys with a row changed at or after the watermark on
either side (``updated_at`` on each).  What it cannot: a difference in rows that neither
side changed (an old mismatch), or a deletion, since a deleted row has no ``updated_at``
left (unless the other side changed that key too) — those are a whole run's to find.
The property that matters is written as :func:`assert_agrees_with_full`: for the keys an
incremental run judged, its outcomes equal a full run's outcomes for those keys.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
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
from tests.consistency.keyed_tables import (
    Column,
    drop_my,
    drop_pg,
    lite_table,
    my_table,
    pg_table,
)

pytestmark = [pytest.mark.postgres, pytest.mark.mariadb]

GRACE = timedelta(minutes=10)
PREVIOUS = NOW - timedelta(minutes=50)  # the previous run's ``now``
SINCE = PREVIOUS - GRACE  # its next_watermark: where this run starts
OLD = NOW - timedelta(days=30)
RECENT = NOW - timedelta(minutes=5)  # inside the grace window
SKEW = timedelta(minutes=3)  # the channel's clock runs this much behind (within grace)
PHONE = "13800138000"

COLUMNS: list[Column] = [("branch_id", "text"), ("customer_id", "int"), ("name", "text"),
                         ("phone", "text"), ("updated_at", "ts")]
Row = tuple[str, int | None, str, str, datetime]


def at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


REF: list[Row] = [
    ("B1", 1, "Zhang San", PHONE, OLD),  # unchanged, equal: not judged
    ("B1", 2, "Li Si", PHONE, OLD),  # unchanged, different: not seen (a full run's)
    ("B1", 3, "Wang Wu", PHONE, at(10)),  # changed, synced: match
    ("B1", 10, "Zhao Liu", PHONE, at(20)),  # changed here only: mismatch
    ("B1", 20, "Sun Qi", PHONE, OLD),  # the channel changed it: mismatch
    ("B2", 2, "Zhou Ba", PHONE, at(5)),  # new here: missing
    ("B2", 8, "Wu Jiu", PHONE, OLD),  # deleted from the channel: not seen
    ("B3", 1, "Zheng Shi", PHONE, RECENT),  # changing now: pending_sync
    ("B3", 5, "Qian Yi", PHONE, OLD),  # changed by the channel after PREVIOUS, slow clock
    ("B3", 6, "Feng Er", PHONE, at(30)),  # changed here, deleted from the channel: missing
]
CHAN: list[Row] = [
    ("B1", 1, "Zhang San", PHONE, OLD),
    ("B1", 2, "Li Wu", PHONE, OLD),
    ("B1", 3, "Wang Wu", PHONE, at(12)),
    ("B1", 10, "Zhao Qi", PHONE, OLD),
    ("B1", 20, "Sun Ba", PHONE, at(15)),
    ("B2", 9, "Chen San", PHONE, at(5)),  # new here: extra
    ("B2", 10, "Jiang Si", PHONE, OLD),  # deleted from the reference: not seen
    ("B3", 1, "Zheng Shi Yi", PHONE, OLD),
    # Changed at PREVIOUS + 1m by the channel's clock 3 minutes slow: stamped before
    # PREVIOUS, yet after the watermark, because the watermark is PREVIOUS - grace.
    ("B3", 5, "Qian Er", PHONE, PREVIOUS + timedelta(minutes=1) - SKEW),
]
NULL_KEY: Row = ("B4", None, "He Wu", PHONE, at(1))  # changed, no usable key: invalid
EXPECTED = {Outcome.MATCH: 1, Outcome.MISMATCH: 3, Outcome.MISSING: 2, Outcome.EXTRA: 1,
            Outcome.INVALID: 1, Outcome.DUPLICATE_KEY: 0, Outcome.PENDING_SYNC: 1}
CHANNELS = ("mysql", "sqlite", "postgres")


def write(pg: psycopg.Connection[Any], my: pymysql.Connection[Any], db: Path, channel: str,
          ref: Sequence[Row], chan: Sequence[Row]) -> None:
    pg_table(pg, "ow_inc_ref", COLUMNS, ref)
    if channel == "mysql":
        my_table(my, "ow_inc_chan", COLUMNS, chan)
    elif channel == "sqlite":
        lite_table(db, "ow_inc_chan", COLUMNS, chan)
    else:
        pg_table(pg, "ow_inc_chan", COLUMNS, chan)


@pytest.fixture
def dbs(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]
        ) -> Iterator[tuple[psycopg.Connection[Any], pymysql.Connection[Any]]]:
    yield pg, my
    drop_pg(pg, "ow_inc_ref", "ow_inc_chan")
    drop_my(my, "ow_inc_chan")


def config(db: Path, channel: str) -> ConsistencyConfig:
    kinds = {"mysql": {"kind": "mysql", "dsn": MYSQL_DSN},
             "sqlite": {"kind": "sqlite", "path": str(db)},
             "postgres": {"kind": "postgres", "dsn": PG_DSN}}
    return build_consistency({
        "reference": "branch", "key": ["branch_id", "customer_id"], "fields": ["name", "phone"],
        "grace": "10m", "max_samples": 1000,
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_inc_ref",
                       "updated_at": "updated_at"},
            "app": {**kinds[channel], "table": "ow_inc_chan", "updated_at": "updated_at"},
        }})


def run(cfg: ConsistencyConfig, since: datetime | None = None,
        now: datetime = NOW) -> ConsistencyReport:
    (report,) = run_check(cfg, now=now, since=since)
    assert report.error is None, report.error
    return report


def changed_keys(rows: Sequence[Row], since: datetime) -> set[str]:
    """Keys as samples show them (parts joined by ``|``) of rows changed at or after
    ``since``; NULL key parts left out (they are counted, never a key)."""
    return {f"{b}|{s}" for b, s, _, _, u in rows if s is not None and u >= since}


def outcomes(report: ConsistencyReport) -> dict[str, Outcome]:
    """Every non-matching key's outcome (``max_samples`` is large enough for all)."""
    got = {s.key: s.outcome for s in report.samples if s.key != "<NULL>"}
    assert len(got) == len([s for s in report.samples if s.key != "<NULL>"])
    return got


def assert_agrees_with_full(cfg: ConsistencyConfig, judged: set[str], since: datetime,
                            now: datetime = NOW) -> ConsistencyReport:
    """The property: for the keys the incremental run judged, the same outcome as a
    full run gives them; every other key it leaves alone."""
    inc, full = run(cfg, since, now), run(cfg, now=now)
    assert inc.mode == "incremental"
    assert inc.next_watermark == now - GRACE
    inc_out, full_out = outcomes(inc), outcomes(full)
    assert inc_out == {k: o for k, o in full_out.items() if k in judged}
    nulls = sum(1 for s in inc.samples if s.key == "<NULL>")
    assert inc.counts[Outcome.MATCH] == len(judged) - len(inc_out)
    assert sum(inc.counts.values()) >= len(judged) + nulls
    return inc


@pytest.mark.parametrize("channel", CHANNELS)
def test_incremental_run_sees_changes_on_either_side(
        dbs: tuple[psycopg.Connection[Any], pymysql.Connection[Any]], tmp_path: Path,
        channel: str) -> None:
    pg, my = dbs
    db = tmp_path / "web.db"
    write(pg, my, db, channel, REF, [*CHAN, NULL_KEY])
    cfg = config(db, channel)
    judged = changed_keys(REF, SINCE) | changed_keys(CHAN, SINCE)
    assert judged == {"B1|3", "B1|10", "B1|20", "B2|2", "B2|9", "B3|1", "B3|5", "B3|6"}
    # The previous run, an hour earlier, said where this one starts.
    assert run(cfg, SINCE - timedelta(hours=1), PREVIOUS).next_watermark == SINCE
    inc = assert_agrees_with_full(cfg, judged, SINCE)
    assert dict(inc.counts) == EXPECTED
    assert dict(inc.field_mismatches) == {"name": 3}
    # The watermark's own zone does not matter (PyMySQL would drop it: sent in UTC).
    shanghai = SINCE.astimezone(timezone(timedelta(hours=8)))
    assert dict(run(cfg, shanghai).counts) == EXPECTED
    # What only a whole run sees: the old mismatch and the two deletions.
    full = run(cfg)
    assert {k: o for k, o in outcomes(full).items() if k not in judged} == {
        "B1|2": Outcome.MISMATCH, "B2|8": Outcome.MISSING, "B2|10": Outcome.EXTRA}
    # Once the grace window has passed, the pending key is judged: a mismatch.
    later = run(cfg, SINCE, NOW + GRACE)
    assert later.counts[Outcome.PENDING_SYNC] == 0
    assert later.counts[Outcome.MISMATCH] == 4
    # The next run starts at this one's watermark: nothing changed since, nothing judged
    # but the rows still inside the grace window.
    assert inc.next_watermark is not None
    nxt = run(cfg, inc.next_watermark)
    assert dict(nxt.counts) == {**dict.fromkeys(Outcome, 0), Outcome.PENDING_SYNC: 1}


@pytest.mark.parametrize("channel", CHANNELS)
def test_incremental_matches_full_on_random_changes(
        dbs: tuple[psycopg.Connection[Any], pymysql.Connection[Any]], tmp_path: Path,
        channel: str) -> None:
    # Random histories on both sides: inserts, updates, deletions, skewed clocks, and
    # changes on the same calendar day as the watermark (text timestamps compare badly).
    rng = random.Random(11)
    times = [OLD, SINCE - timedelta(hours=3), SINCE - timedelta(seconds=1), SINCE,
             at(1), at(25), RECENT, NOW + timedelta(minutes=2),
             # Written with a zone whose date is the day before: text compares wrongly.
             at(1).astimezone(timezone(timedelta(hours=-12))),
             (SINCE - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-12)))]
    ref: list[Row] = []
    chan: list[Row] = []
    for i in range(300):
        key = (f"B{i % 3}", i // 3 * 7 % 120)  # int parts 0..119: '10' < '2' as text
        name = "Zhang San"
        for side in (ref, chan):
            if rng.random() < 0.9:
                side.append((key[0], key[1], rng.choice([name, "Li Si"]), PHONE,
                             rng.choice(times)))
    pg, my = dbs
    db = tmp_path / "web.db"
    write(pg, my, db, channel, ref, chan)
    cfg = config(db, channel)
    judged = changed_keys(ref, SINCE) | changed_keys(chan, SINCE)
    inc = assert_agrees_with_full(cfg, judged, SINCE)
    assert inc.judged > 0
