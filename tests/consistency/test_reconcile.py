"""The pure reconciliation of key-range hash lists across ranges (``reconcile.py``):
worked examples, and a property test against a brute-force dict comparison with two
sides that order keys differently (bytes vs a case- and punctuation-blind order)."""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.consistency.errors import SourceError
from monitor.consistency.reconcile import (
    ENTRY_SEPARATOR,
    HASH_DIGITS,
    RangeReconciler,
    common_bounds,
)

NAMES = ("ref", "chan")
Order = Callable[[str], tuple[str, ...]]


def lst(*entries: tuple[str, str]) -> tuple[int, str]:
    return len(entries), ENTRY_SEPARATOR.join(k + h.rjust(HASH_DIGITS, "0")
                                              for k, h in entries)


def reconcile(*ranges: tuple[tuple[int, str], tuple[int, str]]) -> tuple[int, list[str]]:
    r = RangeReconciler(NAMES)
    for a, b in ranges:
        r.add(a, b)
    keys = r.finish()
    return r.matches, keys


def test_equal_lists_match_without_parsing() -> None:
    a = lst(("A", "1"), ("B", "2"))
    assert reconcile((a, a)) == (2, [])
    assert reconcile(((0, ""), (0, ""))) == (0, [])


def test_a_range_says_whether_its_rows_differ_whatever_their_order() -> None:
    # MariaDB's GROUP_CONCAT lists a range in no particular order: the same rows in
    # another order are an equal range (the density of differences is judged on this).
    r = RangeReconciler(NAMES)
    a = lst(("A", "1"), ("B", "2"), ("C", "3"))
    assert r.add(a, a) is False
    assert r.add(a, lst(("C", "3"), ("A", "1"), ("B", "2"))) is False
    assert r.add(lst(("D", "4")), lst(("D", "5"))) is True
    # A duplicated key is for the full comparison to judge, whatever the order.
    assert r.add(lst(("E", "5"), ("F", "6"), ("E", "5")),
                 lst(("F", "6"), ("E", "5"), ("E", "5"))) is True
    assert (r.matches, r.finish()) == (7, ["D", "E"])


def test_changed_and_one_sided_keys_are_named_sorted() -> None:
    a = lst(("A", "1"), ("B", "2"), ("C", "3"), ("E", "5"))
    b = lst(("E", "5"), ("D", "4"), ("B", "9"), ("A", "1"))  # any order
    assert reconcile((a, b)) == (2, ["B", "C", "D"])


def test_a_key_in_different_ranges_on_each_side_is_a_match() -> None:
    # 'a_b' is in range 0 on the reference and in range 1 on the channel.
    r0 = (lst(("A", "1"), ("a_b", "7")), lst(("A", "1")))
    r1 = (lst(("b", "2")), lst(("a_b", "7"), ("b", "2")))
    assert reconcile(r0, r1) == (3, [])
    moved_and_changed = (lst(("b", "2")), lst(("a_b", "8"), ("b", "2")))
    assert reconcile(r0, moved_and_changed) == (2, ["a_b"])


def test_case_variants_are_distinct_keys() -> None:
    a = lst(("C001", "1"), ("c001", "2"))
    b = lst(("c001", "2"))
    assert reconcile((a, b)) == (1, ["C001"])


def test_duplicated_keys_are_never_matches() -> None:
    a = lst(("A", "1"), ("A", "2"), ("B", "3"))
    b = lst(("A", "1"), ("B", "3"))
    assert reconcile((a, b)) == (1, ["A"])
    same = lst(("A", "1"), ("A", "1"), ("B", "3"))
    assert reconcile((same, b)) == (1, ["A"])
    # The duplicated side's copies share a range; the other side's copy is elsewhere.
    assert reconcile((same, lst(("B", "3"))), ((0, ""), lst(("A", "1")))) == (1, ["A"])


def test_a_key_holding_the_separator_fails_loudly() -> None:
    with pytest.raises(SourceError, match="U\\+001E"):
        reconcile(((1, "A\x1eB" + "0" * HASH_DIGITS), (0, "")))


def test_common_bounds_are_ordered_in_both_collations() -> None:
    bounds = ["A", "B", "a", "a_b", "b"]
    by_bytes = [0, 1, 2, 3, 4]
    folded = [0, 1, 0, 1, 2]  # case-blind ranks: A = a, B = a_b (say) < b
    got = common_bounds(bounds, by_bytes, folded)
    assert got in (["A", "B", "b"], ["A", "a_b", "b"], ["a", "a_b", "b"], ["A", "a", "a_b", "b"])
    assert len(got) == 4  # the longest: A, a (equal to A case-blind), a_b, b
    assert common_bounds([], [], []) == []


# -- property: reconciled outcome == brute force ---------------------------------------

def _bytes(k: str) -> tuple[str, ...]:
    return (k,)


def _folded(k: str) -> tuple[str, ...]:
    # Like a case-insensitive, PAD SPACE, punctuation-light collation: a total preorder
    # in which distinct texts can be equal and differ in order from bytes.
    return (k.casefold().rstrip(" ").replace("-", "").replace("_", ""),)


def _ranks(values: list[str], order: Order) -> list[int]:
    levels = sorted({order(v) for v in values})
    return [levels.index(order(v)) for v in values]


def _assign(rows: list[tuple[str, str]], bounds: list[str], order: Order
            ) -> dict[int, list[tuple[str, str]]]:
    """Each row to range ``i`` with ``bounds[i-1] <= key < bounds[i]`` in ``order``."""
    cuts = [order(b) for b in bounds]
    out: dict[int, list[tuple[str, str]]] = {}
    for key, h in rows:
        out.setdefault(bisect_right(cuts, order(key)), []).append((key, h))
    return out


KEYS = st.text(alphabet="aAbB-_ 1", min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(KEYS, min_size=0, max_size=40, unique=True),
       seed=st.integers(0, 2**32 - 1), cuts=st.integers(0, 12), swap=st.booleans())
def test_reconciled_counts_equal_a_brute_force_comparison(
        keys: list[str], seed: int, cuts: int, swap: bool) -> None:
    rng = random.Random(seed)
    ref = [(k, f"{rng.randrange(4):x}") for k in keys]
    chan: list[tuple[str, str]] = []
    for k, h in ref:
        roll = rng.random()
        if roll < 0.15:
            continue  # missing
        if roll < 0.3:
            h = f"{rng.randrange(4, 8):x}"  # changed
        chan.append((k, h))
        if roll > 0.95:
            chan.append((k, h if rng.random() < 0.5 else "f"))  # duplicated
    chan += [(k, "9") for k in ("bA", "a-", "B_1") if k not in keys and rng.random() < 0.5]
    rng.shuffle(chan)
    order_a, order_b = (_folded, _bytes) if swap else (_bytes, _folded)
    sample = sorted(keys, key=order_a)
    picked = list(dict.fromkeys(sample[int(i * len(sample) / (cuts + 1))]
                                for i in range(1, cuts + 1))) if sample else []
    bounds = common_bounds(picked, _ranks(picked, order_a), _ranks(picked, order_b))
    for order in (order_a, order_b):
        assert all(order(x) <= order(y) for x, y in pairwise(bounds))

    ra, cb = _assign(ref, bounds, order_a), _assign(chan, bounds, order_b)
    r = RangeReconciler(NAMES)
    for seg in range(len(bounds) + 1):
        a, b = ra.get(seg, []), cb.get(seg, [])
        if Counter(a) == Counter(b) and rng.random() < 0.5:
            r.matches += len(a)  # a range whose checksums were equal: summed, not listed
            continue
        rng.shuffle(a)
        r.add(lst(*a), lst(*b))
    differing = r.finish()

    ca, cc = Counter(k for k, _ in ref), Counter(k for k, _ in chan)
    ha, hc = dict(ref), dict(chan)
    expected_match = {k for k in ca.keys() & cc.keys()
                      if ca[k] == cc[k] == 1 and ha[k] == hc[k]}
    assert r.matches == len(expected_match)
    assert differing == sorted((ca.keys() | cc.keys()) - expected_match)
