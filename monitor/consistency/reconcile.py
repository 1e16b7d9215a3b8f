"""Reconcile the per-range hash lists of ``checksum`` mode across ranges (pure).

Each database assigns rows to key ranges by its *own* comparison: ``lo <= key < hi`` in
the key column's collation, with the same bound strings on both sides.  Bounds are kept
non-decreasing in both collations (:func:`common_bounds`), so on each side the ranges
tile the keys: every key text lies in exactly one range of that side.  The two sides may
still disagree on *which* range (``'a_b'`` sorts before ``'a-b'`` in one collation and
after it in bytes).

**Why a key placed differently is never lost.**  Say side A puts key ``k`` in range
``i`` and side B puts it in range ``j != i``.  Tiling means B has no row with key ``k``
in range ``i`` and A has none in range ``j``.  So range ``i`` holds an entry of ``k`` on
A but none on B, and range ``j`` one on B but none on A: both ranges' row multisets
differ, both checksums differ (up to the 60-bit hash-sum collision every checksum
comparison accepts), and both ranges are listed.  A range whose checksums are equal
holds the same ``(key, hash)`` multiset on both sides, so its rows are matches, and none
of its keys is anywhere else on either side.

Hence reconciling the listed ranges *together* is exact: an entry ``(k, h)`` on A in
range ``i`` and on B in range ``j`` is a match; a key on one side only (over the union of
all listed ranges) is missing or extra; a key on both sides with different hashes, or
more than once on a side, is handed to the full comparison.  Entries equal within one
range cancel at once, so only the differing and the displaced entries are kept until
the end.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence

from monitor.consistency.errors import SourceError

ENTRY_SEPARATOR = "\x1e"
HASH_DIGITS = 16


def common_bounds(bounds: Sequence[str], ranks_a: Sequence[int],
                  ranks_b: Sequence[int]) -> list[str]:
    """The longest subsequence of ``bounds`` that is non-decreasing in both orders.

    ``ranks_a[i]``/``ranks_b[i]`` are the dense ranks of ``bounds[i]`` in each side's
    collation (equal ranks: equal there, e.g. ``c001``/``C001`` case-insensitively).
    Non-decreasing bounds tile each side's keys (an empty range where two bounds are
    equal); a bound out of order on one side would put keys in two ranges or none.
    """
    order = sorted(range(len(bounds)), key=lambda i: (ranks_a[i], ranks_b[i]))
    # Longest non-decreasing subsequence of ranks_b along ``order`` (patience sorting).
    tails: list[int] = []  # tails[n]: smallest ranks_b ending a run of length n + 1
    tail_at: list[int] = []  # the index into ``order`` of that run's last element
    parent = [-1] * len(order)
    for pos, i in enumerate(order):
        n = bisect_right(tails, ranks_b[i])
        if n == len(tails):
            tails.append(ranks_b[i])
            tail_at.append(pos)
        else:
            tails[n], tail_at[n] = ranks_b[i], pos
        parent[pos] = tail_at[n - 1] if n else -1
    picked: list[str] = []
    pos = tail_at[-1] if tail_at else -1
    while pos >= 0:
        picked.append(bounds[order[pos]])
        pos = parent[pos]
    return picked[::-1]


def _entries(name: str, text: str, rows: int) -> list[str]:
    entries = text.split(ENTRY_SEPARATOR) if rows else []
    if len(entries) != rows:  # a key holding U+001E: a loud error, never a mis-split
        raise SourceError(name, "query", "a key holds the control character U+001E")
    return entries


class RangeReconciler:
    """Accumulates the listed ranges of one pair; see the module docstring for why the
    outcome is exact.  ``matches`` counts keys with equal row hashes on both sides."""

    def __init__(self, names: tuple[str, str]) -> None:
        self.names = names
        self.matches = 0
        # Entries not matched yet (within their range or across): key -> hash, per side.
        self._loose: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._doubtful: set[str] = set()  # duplicated keys: the full comparison judges
        self._differing: set[str] = set()  # on both sides with different row hashes

    def add(self, a: tuple[int, str], b: tuple[int, str]) -> bool:
        """One range's ``(rows, entries)`` on each side; whether its rows differ.

        Lists may hold the same entries in another order (MariaDB's ``GROUP_CONCAT``
        follows none): those ranges are equal, and must not read as differences when
        the caller judges how dense differences are."""
        if a == b:  # both databases listed the same rows in the same order
            self.matches += a[0]
            return False
        lists = (_entries(self.names[0], a[1], a[0]), _entries(self.names[1], b[1], b[0]))
        dup: set[str] = set()
        for entries in lists:
            keys = [e[:-HASH_DIGITS] for e in entries]
            if len(set(keys)) != len(keys):
                dup.update(k for k, n in Counter(keys).items() if n > 1)
        sa, sb = set(lists[0]), set(lists[1])
        if not dup and sa == sb:  # the same rows, listed in another order
            self.matches += len(sa)
            return False
        common = sa & sb
        self.matches += len(common) if not dup else sum(
            1 for e in common if e[:-HASH_DIGITS] not in dup)
        self._doubtful |= dup
        for side, rest in enumerate((sa - sb, sb - sa)):
            mine, theirs = self._loose[side], self._loose[1 - side]
            for e in rest:
                key, h = e[:-HASH_DIGITS], e[-HASH_DIGITS:]
                if key in self._doubtful:
                    continue
                if key in theirs:  # met again, in another range or with another hash
                    if theirs.pop(key) == h:
                        self.matches += 1
                    else:
                        self._differing.add(key)
                elif key in mine:  # the same text in two ranges of one side: never merge
                    del mine[key]
                    self._doubtful.add(key)
                else:
                    mine[key] = h
        return True

    def pending(self) -> int:
        """About how many keys differ so far (for the density check): a key displaced
        between ranges not yet both listed is counted until its partner arrives."""
        loose = max(len(self._loose[0]), len(self._loose[1]))
        return len(self._doubtful) + len(self._differing) + loose

    def finish(self) -> list[str]:
        """The keys to compare in full, sorted: differing hashes, duplicated, or on one
        side only over every listed range."""
        la, lb = self._loose
        return sorted(self._doubtful | self._differing | la.keys() | lb.keys())
