"""The pure comparison: exact outcomes on the shared dataset, ordering, failures."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from monitor.config.consistency import build_consistency
from monitor.consistency.checksum import differing_keys
from monitor.consistency.compare import ComparePlan, Group, SortedGroups, compare_streams, judge
from monitor.consistency.errors import KeyOrderError, SourceError
from monitor.consistency.model import Outcome, SourceRecord
from monitor.consistency.report import Tally
from tests.consistency import dataset as ds

CONFIG = build_consistency(ds.section({
    "branch": {"kind": "http", "url": "http://127.0.0.1:1/"},
    "app": {"kind": "http", "url": "http://127.0.0.1:1/"},
    "web": {"kind": "http", "url": "http://127.0.0.1:1/"},
}))
PLAN = ComparePlan.from_config(CONFIG)


def records(rows: Sequence[dict[str, Any]]) -> list[SourceRecord]:
    return [SourceRecord((r["customer_id"],), tuple(r[f] for f in ds.FIELDS), r["updated_at"])
            for r in rows]


def test_dataset_gives_the_exact_counts() -> None:
    tallies = compare_streams(PLAN, "branch", records(ds.reference()),
                              {"app": records(ds.channel())}, ds.NOW)
    app = tallies["app"]
    assert app.error is None
    assert app.counts == ds.EXPECTED
    assert app.field_mismatches == ds.EXPECTED_FIELDS
    assert app.rows_read == {"branch": ds.REFERENCE_ROWS, "app": ds.CHANNEL_ROWS}
    shown = {s.key: s for s in app.samples}
    assert shown["C012"].outcome is Outcome.MISMATCH
    assert [(d.field, d.reference, d.channel) for d in shown["C012"].diffs] == [
        ("name", "Z*******", "Z******")]
    assert shown["C013"].diffs[0].reference == "139****0000"  # masked, never clear
    assert shown["C019"].reason is not None
    assert shown["C019"].reason.startswith("name: not a name (broken encoding")
    assert shown["C020"].reason == "phone: not a phone number"
    assert "C021" not in shown  # invalid, but identically on both sides
    assert "12345" not in repr(app.samples)


def test_one_pass_compares_every_channel() -> None:
    tallies = compare_streams(PLAN, "branch", records(ds.reference()),
                              {"app": records(ds.channel()), "web": records(ds.reference())},
                              ds.NOW)
    assert tallies["app"].counts == ds.EXPECTED
    web = tallies["web"].counts
    assert web[Outcome.MATCH] == ds.REFERENCE_ROWS  # C021 too: identical text is consistent
    assert sum(web.values()) == ds.REFERENCE_ROWS


def test_an_invalid_reference_record_is_invalid_when_it_differs() -> None:
    ref = [r for r in records(ds.reference()) if r.key == ("C021",)]
    other = [ref[0]._replace(values=("Someone", *ref[0].values[1:]))]
    t = compare_streams(PLAN, "branch", ref, {"app": other}, ds.NOW)["app"]
    assert t.counts[Outcome.INVALID] == 1
    assert t.samples[0].reason == "birth_date: not a calendar date"
    t = compare_streams(PLAN, "branch", ref, {"app": []}, ds.NOW)["app"]
    assert t.counts[Outcome.INVALID] == 1


def test_outside_the_grace_window_differences_count() -> None:
    later = ds.NOW + timedelta(hours=1)
    app = compare_streams(PLAN, "branch", records(ds.reference()),
                          {"app": records(ds.channel())}, later)["app"]
    assert app.counts[Outcome.PENDING_SYNC] == 0
    assert app.counts[Outcome.MISSING] == 2  # C015, C016
    assert app.counts[Outcome.EXTRA] == 2  # C022, C023
    assert app.counts[Outcome.MISMATCH] == 4  # C017 joins


def rec(key: str, name: str = "A", updated: Any = None) -> SourceRecord:
    return SourceRecord((key,), (name, None, None, None, None, None, None), updated)


def test_judge_precedence() -> None:
    a, b = Group(rec("K", "A")), Group(rec("K", "B"))
    assert judge(PLAN, a, b, ds.NOW) == (Outcome.MISMATCH, ("name",), None)
    assert judge(PLAN, Group(rec("K"), copies=2), b, ds.NOW)[0] is Outcome.DUPLICATE_KEY
    assert judge(PLAN, a, None, ds.NOW)[0] is Outcome.MISSING
    assert judge(PLAN, None, b, ds.NOW)[0] is Outcome.EXTRA
    bad_time = Group(rec("K", "B", "yesterday"))
    assert judge(PLAN, a, bad_time, ds.NOW) == (
        Outcome.INVALID, (), "updated_at: not an ISO timestamp")
    future = Group(rec("K", "B", ds.NOW + timedelta(days=1)))
    assert judge(PLAN, a, future, ds.NOW)[0] is Outcome.PENDING_SYNC
    naive = Group(rec("K", "B", "2024-06-01 11:59:00"))  # naive means UTC
    assert judge(PLAN, a, naive, ds.NOW)[0] is Outcome.PENDING_SYNC


def test_out_of_order_keys_fail_loudly() -> None:
    rows = [rec("C2"), rec("C1")]
    with pytest.raises(KeyOrderError, match="binary collation"):
        list(SortedGroups("app", rows))
    # A collation that ignores case would put 'a' before 'B'; bytes put 'B' first.
    app = compare_streams(PLAN, "branch", [rec("B"), rec("a")], {"app": [rec("a"), rec("B")]},
                          ds.NOW)["app"]
    assert app.error is not None
    assert "source 'app': order" in app.error


def test_duplicates_and_null_keys_are_grouped() -> None:
    rows = [SourceRecord((None,), (None,) * 7), rec("A"), rec("A"), rec("A"), rec("B")]
    groups = SortedGroups("s", rows)
    got = [(k, copies) for k, _, copies in groups]
    assert got == [(("A",), 3), (("B",), 1)]
    assert groups.null_keys == 1
    assert groups.rows_read == 5


def failing(rows: list[SourceRecord], after: int) -> Iterator[SourceRecord]:
    yield from rows[:after]
    raise SourceError("app", "lost", "server closed the connection")


def test_a_channel_that_dies_fails_alone() -> None:
    ref = records(ds.reference())
    tallies = compare_streams(PLAN, "branch", ref,
                              {"app": failing(records(ds.channel()), 5), "web": ref}, ds.NOW)
    assert tallies["app"].error == "source 'app': lost: server closed the connection"
    assert tallies["web"].error is None
    assert tallies["web"].counts[Outcome.MATCH] == ds.REFERENCE_ROWS


def test_a_reference_that_dies_fails_every_channel() -> None:
    tallies = compare_streams(PLAN, "branch", failing(records(ds.reference()), 3),
                              {"app": records(ds.channel()), "web": records(ds.channel())},
                              ds.NOW)
    assert all(t.error and "lost" in t.error for t in tallies.values())


def test_compound_keys() -> None:
    cfg = build_consistency({
        "reference": "a", "key": ["branch_id", "customer_id"], "fields": ["name"],
        "sources": {"a": {"kind": "http", "url": "http://x/"},
                    "b": {"kind": "http", "url": "http://x/"}},
    })
    plan = ComparePlan.from_config(cfg)

    def r(b: str, c: str, name: str) -> SourceRecord:
        return SourceRecord((b, c), (name,))

    ref = [r("001", "C1", "A"), r("001", "C2", "B"), r("002", "C1", "C")]
    ch = [r("001", "C1", "A"), r("002", "C1", "X"), r("002", "C2", "D")]
    t = compare_streams(plan, "a", ref, {"b": ch}, ds.NOW)["b"]
    assert t.counts[Outcome.MATCH] == 1
    assert t.counts[Outcome.MISSING] == 1
    assert t.counts[Outcome.MISMATCH] == 1
    assert t.counts[Outcome.EXTRA] == 1
    assert {s.key for s in t.samples} == {"001|C2", "002|C1", "002|C2"}


def test_differing_keys_names_exactly_the_differences() -> None:
    t = Tally("a", "b")
    ref = [(("A",), 1), (("B",), 2), (("C",), 3), (("C",), 3), (("E",), 5)]
    ch = [(("A",), 1), (("B",), 9), (("C",), 3), (("D",), 4), (("E",), 5), (("F",), 6)]
    got = list(differing_keys(iter(ref), iter(ch), t))
    assert got == [("B",), ("C",), ("D",), ("F",)]  # changed, duplicated, extra, extra
    assert t.counts[Outcome.MATCH] == 2
    assert t.rows_checksummed == 2
    with pytest.raises(KeyOrderError):
        list(differing_keys(iter([(("B",), 1), (("A",), 1)]), iter([]), Tally("a", "b")))
