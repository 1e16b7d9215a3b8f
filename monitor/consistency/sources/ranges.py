"""Key-range segments for ``checksum`` mode, over a single indexed text key column.

Hash segments (``SqlSource.segment_checksums``) need an ``md5`` of the key on top of the
row's own ``md5``, and a ``GROUP BY`` over a computed expression that scans the whole
table.  When a table has one indexed text key column, a range can be read through that
index instead, whatever its collation: each database puts a row in a range by its own
comparison, and ``monitor.consistency.reconcile`` explains why that stays exact:

* split keys come from a random sample of the reference (one scan, a few keys back),
  kept non-decreasing in both sides' collations (:func:`ranks` asks each database);
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
import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from monitor.consistency.model import SourceConfig, SourceRecord
from monitor.consistency.reconcile import HASH_DIGITS
from monitor.consistency.sources.base import Layout
from monitor.consistency.sources.dialects import Dialect

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

    def _bound(self, expr: str) -> str: ...


def collation(source: RangeHost) -> tuple[str, str] | None:
    """How to compare a bound in the key column's own collation, from the catalog: the
    text before and after the bound's expression; ``None`` when the column is not text
    (integer keys compare as numbers in the database but as text everywhere else, so
    they stay on hash segments).  Cached on the source by :meth:`SqlSource._bound`."""
    if source.config.table is None or len(source._keys) != 1:
        return None
    schema, _, table = source.config.table.rpartition(".")
    (column,) = source.layout.key_columns
    d = source.dialect
    if d.name == "postgres":
        sql = ("SELECT n.nspname, c.collname FROM pg_attribute a "
               "JOIN pg_collation c ON c.oid = a.attcollation "
               "JOIN pg_namespace n ON n.oid = c.collnamespace "
               "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s")
        got = list(source._rows(sql, [d.quote(source.config.table), column]))
        # Quoted part by part, so a name holding a dot stays one identifier.
        return ("", f" COLLATE {d.quote(got[0][0])}.{d.quote(got[0][1])}") if got else None
    if d.name == "mysql":
        sql = ("SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
               "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s "
               "AND COLUMN_NAME = %s")
        rows = list(source._rows(sql, [schema or None, table, column]))
        charset, name = (str(v or "") for v in rows[0]) if rows else ("", "")
        # MySQL names are plain words; anything else is never spliced into SQL.
        if not all(re.fullmatch(r"[A-Za-z0-9_]+", v) for v in (charset, name)):
            return None
        # The bound is converted to the column's character set (an ascii_bin key against
        # utf8mb4 text would otherwise be compared in the text's collation, not its own).
        return "CONVERT(", f" USING {charset}) COLLATE {name}"
    return None


def ranks(source: RangeHost, values: Sequence[str]) -> list[int]:
    """The dense rank of each of ``values`` in the key column's own collation (equal
    ranks: equal to the database, as ``c001`` and ``C001`` case-insensitively), by the
    same expression that compares them with the key in :func:`checksums`."""
    if not values:
        return []
    p = source.dialect.param
    rows_sql = ", ".join(f"({i}, {p})" for i in range(len(values)))
    sql = (f"WITH ow_v (ow_i, ow_s) AS (VALUES {rows_sql}) SELECT ow_i, "
           f"DENSE_RANK() OVER (ORDER BY {source._bound('ow_s')}) FROM ow_v")
    got = dict(source._rows(sql, list(values)))
    return [int(got[i]) for i in range(len(values))]


def usable(source: RangeHost) -> bool:
    """Whether ``source`` can be cut into key ranges read through its key's index."""
    if not (source.dialect.supports_checksum and len(source._keys) == 1
            and source.config.table is not None and collation(source) is not None):
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
    """Distinct keys in the table's own order cutting ``source`` into about ``segments``
    ranges (more when a range would exceed ``max_rows``), chosen from a random sample of
    its keys; and the number of non-NULL keys."""
    (key,) = source._keys
    rel = source._relation
    rows = list(source._rows(f"SELECT COUNT({key}) FROM {rel}", []))
    total = int(rows[0][0]) if rows else 0
    segments = max(segments, math.ceil(total / max(max_rows, 1)))
    if total <= segments:
        return [], total
    rate = min(1.0, SAMPLES_PER_SEGMENT * segments / total)
    d = source.dialect
    # Ordered by the column itself: ranges are cut where the database draws them.
    sql = (f"SELECT {d.text(key)} FROM {rel} WHERE {key} IS NOT NULL AND "
           f"{d.random()} < {rate!r} ORDER BY {key}")
    sample = [str(r[0]) for r in source._rows(sql, [])]
    if not sample:
        return [], total
    step = len(sample) / segments
    return list(dict.fromkeys(sample[int(i * step)] for i in range(1, segments))), total


def _ranges_sql(source: RangeHost, select: str, bounds: Sequence[str],
                segments: Sequence[int]) -> tuple[str, list[object]]:
    """``select`` (aggregates over the table, aliased ``t``) per segment, one statement."""
    (key,) = source._keys
    p = source.dialect.param
    # Bounds are compared in the key column's collation, explicitly, on the bound's side
    # only: the key stays a bare column, so its index serves the comparison.
    lo, hi, bound = source._bound("ow_b.ow_lo"), source._bound("ow_b.ow_hi"), source._bound(p)
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
                     f"ON {key} >= {lo} AND {key} < {hi} GROUP BY ow_b.ow_i")
    for s in segments:
        if s == 0:
            cond = f"{key} < {bound}" if bounds else f"{key} IS NOT NULL"
            outer.extend(bounds[:1])
        elif s == last:
            cond = f"{key} >= {bound}"
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
