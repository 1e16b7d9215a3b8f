"""Key-range segments for ``checksum`` mode, where both key columns sort by bytes natively.

Hash segments (``SqlSource.segment_checksums``) need an ``md5`` of the key on top of the
row's own ``md5``, and a ``GROUP BY`` over a computed expression that scans the whole
table.  When a table's single key column already sorts by bytes (PostgreSQL collation
``"C"``, MySQL ``*_bin``), both databases agree on key ranges, and a range can be read
through the primary key's index instead:

* split keys come from a random sample of the reference (one scan, a few keys back);
* the ranges travel as a ``VALUES`` list joined to the table on ``lo <= key < hi``: both
  PostgreSQL (nested loop over index scans) and MariaDB ("range checked for each
  record") then walk the index once, range after range, hashing each row once;
* rows of differing ranges come back as *one text per range*: ``key || 16 hex digits of
  the row hash`` joined by U+001E (``string_agg``/``GROUP_CONCAT``), so a million rows
  cross the driver as a few thousand values instead of a million Python rows (PyMySQL
  spends microseconds per row), and are compared by ``str.split`` and sets at C speed.

Segment ``i`` of ``bounds`` (``len(bounds) + 1`` segments) holds ``bounds[i-1] <= key <
bounds[i]``; the first and last are open; ``-1`` holds NULL keys.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from monitor.consistency.errors import KeyOrderError, SourceError
from monitor.consistency.model import SourceConfig, SourceRecord
from monitor.consistency.sources.base import Layout
from monitor.consistency.sources.dialects import Dialect

ENTRY_SEPARATOR = "\x1e"
HASH_DIGITS = 16
SAMPLES_PER_SEGMENT = 8  # enough for segments within a few tens of percent of equal size


class RangeHost(Protocol):
    """What the range queries need of a SQL source; :class:`.sql.SqlSource` provides it.

    Named here, not imported, so that this module never imports the source it serves.
    """

    dialect: Dialect
    config: SourceConfig
    layout: Layout
    _keys: tuple[str, ...]
    _relation: str

    def _rows(self, sql: str, params: Sequence[object]) -> Iterator[tuple[Any, ...]]: ...

    def _records(self, sql: str, params: Sequence[object]) -> Iterator[SourceRecord]: ...

    def _select(self) -> str: ...

    def _row_text(self) -> str: ...

    def _row_hash(self) -> str: ...

    def _keys_sort_binary(self) -> bool: ...


def usable(source: RangeHost) -> bool:
    """Whether ``source`` can be cut into key ranges read through its key's index."""
    if not (source.dialect.supports_checksum and len(source._keys) == 1
            and source.config.table is not None and source._keys_sort_binary()):
        return False
    # Without an index on the key, each range of the join would scan the whole table.
    schema, _, table = source.config.table.rpartition(".")
    (column,) = source.layout.key_columns
    if source.dialect.name == "postgres":
        sql = ("SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
               "AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass(%s) "
               "AND a.attname = %s")
        params: list[object] = [source.dialect.quote(source.config.table), column]
    else:
        sql = ("SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
               "COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND COLUMN_NAME = %s "
               "AND SEQ_IN_INDEX = 1")
        params = [schema or None, table, column]
    return any(True for _ in source._rows(sql, params))


def split_keys(source: RangeHost, segments: int, max_rows: int) -> tuple[list[str], int]:
    """Strictly increasing keys cutting ``source`` into about ``segments`` ranges (more
    when a range would exceed ``max_rows``), chosen from a random sample of its keys;
    and the number of non-NULL keys."""
    (key,) = source._keys
    rel = source._relation
    rows = list(source._rows(f"SELECT COUNT({key}) FROM {rel}", []))
    total = int(rows[0][0]) if rows else 0
    segments = max(segments, math.ceil(total / max(max_rows, 1)))
    if total <= segments:
        return [], total
    rate = min(1.0, SAMPLES_PER_SEGMENT * segments / total)
    d = source.dialect
    sql = (f"SELECT {d.text(key)} FROM {rel} WHERE {key} IS NOT NULL AND "
           f"{d.random()} < {rate!r}")
    sample = sorted(str(r[0]) for r in source._rows(sql, []))
    if not sample:
        return [], total
    step = len(sample) / segments
    return sorted({sample[int(i * step)] for i in range(1, segments)}), total


def _ranges_sql(source: RangeHost, select: str, bounds: Sequence[str],
                segments: Sequence[int]) -> tuple[str, list[object]]:
    """``select`` (aggregates over the table, aliased ``t``) per segment, one statement."""
    (key,) = source._keys
    p = source.dialect.param
    rel = f"{source._relation} AS t" if source.config.table else source._relation
    inner: list[str] = []
    outer: list[object] = []
    params: list[object] = []
    last = len(bounds)
    for s in segments:
        if 0 < s < last:
            inner.append(f"({int(s)}, {p}, {p})")
            params += [bounds[s - 1], bounds[s]]
    parts: list[str] = []
    if inner:
        # ow_-prefixed names: the joined VALUES list must not shadow the table's columns.
        parts.append(f"SELECT ow_b.ow_i, {select} FROM ow_b {source.dialect.drive_join} {rel} "
                     f"ON {key} >= ow_b.ow_lo AND {key} < ow_b.ow_hi GROUP BY ow_b.ow_i")
    for s in segments:
        if s == 0:
            cond = f"{key} < {p}" if bounds else f"{key} IS NOT NULL"
            outer.extend(bounds[:1])
        elif s == last:
            cond = f"{key} >= {p}"
            outer.append(bounds[-1])
        elif s == -1:
            cond = f"{key} IS NULL"
        else:
            continue
        parts.append(f"SELECT {int(s)}, {select} FROM {rel} WHERE {cond}")
    sql = " UNION ALL ".join(parts)
    if inner:
        sql = f"WITH ow_b (ow_i, ow_lo, ow_hi) AS (VALUES {', '.join(inner)}) {sql}"
    return sql, params + outer


def checksums(source: RangeHost, bounds: Sequence[str], segments: Sequence[int]
              ) -> dict[int, tuple[int, str]]:
    """``{segment: (rows, summed row hashes as text)}`` of the non-empty ``segments``."""
    sql, params = _ranges_sql(source, f"COUNT(*), SUM({source._row_hash()})", bounds,
                              sorted(segments))
    return {int(s): (int(n), str(h)) for s, n, h in source._rows(sql, params) if n}


def hash_lists(source: RangeHost, bounds: Sequence[str], segments: Sequence[int]
               ) -> dict[int, tuple[int, str]]:
    """``{segment: (rows, entries)}``: each row's ``key || hash`` joined by U+001E."""
    d = source.dialect
    (key,) = source._keys
    entry = d.row_hash_hex(source._row_text(), HASH_DIGITS)
    sql, params = _ranges_sql(source, f"COUNT(*), {d.joined(d.text(key), entry)}", bounds,
                              sorted(segments))
    return {int(s): (int(n), text or "") for s, n, text in source._rows(sql, params)}


def null_key_records(source: RangeHost) -> Iterator[SourceRecord]:
    """The records whose key is NULL (each one ``invalid``)."""
    (key,) = source._keys
    yield from source._records(f"{source._select()} WHERE {key} IS NULL", [])


def _entries(name: str, text: str, rows: int) -> list[str]:
    entries = text.split(ENTRY_SEPARATOR) if rows else []
    if len(entries) != rows:  # a key holding U+001E: a loud error, never a mis-split
        raise SourceError(name, "query", "a key holds the control character U+001E")
    return entries


def diff_entries(names: tuple[str, str], lo: str | None, hi: str | None,
                 a: tuple[int, str], b: tuple[int, str]) -> tuple[int, list[str]]:
    """``(matches, keys)`` of one range's two lists: the number of keys with equal row
    hashes on both sides, and the keys whose hashes differ, are one-sided or duplicated.

    Pure and at C speed where it matters: equal texts are equal ranges; otherwise set
    operations on whole entries find the few that differ.
    """
    if a == b:  # the usual case: both databases listed the same rows in the same order
        return a[0], []
    ea, eb = _entries(names[0], a[1], a[0]), _entries(names[1], b[1], b[0])
    for name, entries in zip(names, (ea, eb), strict=True):
        if entries and ((lo is not None and min(entries)[:-HASH_DIGITS] < lo)
                        or (hi is not None and max(entries)[:-HASH_DIGITS] >= hi)):
            # A key the database put in this range sorts elsewhere in byte order: the
            # two sides may disagree on ranges (PAD SPACE collations).  Fail loudly.
            raise KeyOrderError(name, "key outside its byte range")
    sa, sb = set(ea), set(eb)
    differing = {e[:-HASH_DIGITS] for e in sa ^ sb}
    duplicated = False
    for entries in (ea, eb):
        keys = [e[:-HASH_DIGITS] for e in entries]
        if len(set(keys)) != len(keys):  # duplicate keys: judged by the full comparison
            duplicated = True
            differing.update(k for k, n in Counter(keys).items() if n > 1)
    common = sa & sb
    if duplicated:  # only a duplicated key can have both a common and a differing entry
        common = {e for e in common if e[:-HASH_DIGITS] not in differing}
    return len(common), sorted(differing)
