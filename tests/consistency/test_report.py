"""Masking, the Wilson interval, the ratio's denominator and the JSON view."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitor.consistency.model import ConsistencyReport, Outcome
from monitor.consistency.report import Tally, mask, report_to_dict, wilson_interval

T0 = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(("value", "kind", "expected"), [
    ("13800000000", "phone", "138****0000"),
    ("11010519491231002X", "id_number", "110***********002X"),
    ("Zhang San", "text", "Z********"),
    ("张三", "text", "张*"),
    ("a@b.cn", "email", "a*****"),
    ("3", "enum", "*"),
    ("1234567", "phone", "1******"),
    (None, "text", None),
])
def test_mask(value: str | None, kind: str, expected: str | None) -> None:
    assert mask(value, kind) == expected


def test_mask_digests() -> None:
    assert mask("a" * 64, "phone", hashed=True) == "aaaaaaaa…"


def test_wilson_interval() -> None:
    low, high = wilson_interval(990, 1000) or (0.0, 0.0)
    assert low == pytest.approx(0.98168, abs=1e-4)
    assert high == pytest.approx(0.99457, abs=1e-4)
    assert wilson_interval(0, 0) is None
    assert wilson_interval(10, 10) == (pytest.approx(0.72246, abs=1e-4), pytest.approx(1.0))


def report(counts: dict[Outcome, int], error: str | None = None) -> ConsistencyReport:
    t = Tally("branch", "app")
    for o, n in counts.items():
        t.add(o, n)
    if error:
        t.fail(error)
    return t.finish(mode="full", started_at=T0, duration_seconds=1.5, objective=0.99)


def test_ratio_excludes_pending_sync() -> None:
    r = report({Outcome.MATCH: 990, Outcome.MISMATCH: 5, Outcome.MISSING: 3,
                Outcome.EXTRA: 1, Outcome.INVALID: 1, Outcome.PENDING_SYNC: 50})
    assert r.judged == 1000
    assert r.ratio == 0.99
    assert r.meets_objective
    assert r.success


def test_failure_has_no_ratio() -> None:
    r = report({Outcome.MATCH: 100}, error="source 'app': timeout: canceling statement")
    assert r.ratio is None
    assert not r.success
    assert not r.meets_objective
    assert report({}).ratio is None  # nothing judged is not 100%


def test_report_to_dict_is_json() -> None:
    t = Tally("branch", "app", max_samples=1)
    t.add(Outcome.MATCH, 3)
    t.sample("C1", Outcome.INVALID, reason="phone: not a phone number")
    t.sample("C2", Outcome.INVALID, reason="dropped: over the bound")
    d = report_to_dict(t.finish(mode="checksum", started_at=T0, duration_seconds=0.25,
                                objective=0.99))
    assert json.loads(json.dumps(d)) == d
    assert d["counts"]["match"] == 3
    assert d["ratio"] == 1.0
    assert d["samples"] == [{"key": "C1", "outcome": "invalid",
                             "reason": "phone: not a phone number", "fields": []}]
    assert d["ratio_denominator"] == "keys on either side except pending_sync"
