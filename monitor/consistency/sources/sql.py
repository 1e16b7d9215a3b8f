"""The SQL source shared by the database adapters: streaming, fetching and checksums.

Each dialect (:mod:`.dialects`) writes the same canonical expressions, so PostgreSQL and
MySQL compute byte-identical row text and therefore identical hashes:

* keys and values are cast to text; the key sorts by bytes (``key_order: binary``);
* a row's text is its key and values joined by U+001F, NULL written as U+001E (each
  part of a compound key written ``length:text``, so joined parts cannot collide); rows
  are also *transferred* as the values' joined text, one column instead of one per
  field, because drivers (PyMySQL most) spend most of their time per column;
* the 32-bit *key hash* (first 8 hex digits of ``md5(key text)``) picks the segment;
* the *row hash* is the first 15 hex digits of ``md5(row text)`` (60 bits, so sums
  stay exact in both ``numeric`` and ``DECIMAL``), as reladiff does.

Identifiers from the configuration are quoted; a configured query is wrapped as a
subquery, used as given; values always travel as driver parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from monitor.consistency.cancel import CancelScope, watch
from monitor.consistency.errors import SourceError
from monitor.consistency.model import Key, SourceConfig, SourceRecord, Unreadable
from monitor.consistency.sources import ranges
from monitor.consistency.sources.base import Layout
from monitor.consistency.sources.dialects import Dialect

Row = tuple[Any, ...]
SEPARATOR = "\x1f"
NULL_MARK = "\x1e"
_CONTROL = Unreadable("control characters U+001E/U+001F in a value")


class SqlSource:
    """A :class:`RecordSource` (and, where the dialect allows, ``SegmentSource``) over SQL.

    Subclasses supply :meth:`_batches`: connect read-only with a statement timeout, run
    one query through a server-side cursor, yield lists of rows, and turn driver errors
    into :class:`~monitor.consistency.errors.SourceError`.
    """

    dialect: Dialect = Dialect()
    # Set by ``open_source`` when the check can be cancelled (the scheduled ones).
    cancel: CancelScope | None = None

    def __init__(self, config: SourceConfig, layout: Layout) -> None:
        self.name = config.name
        self.config = config
        self.layout = layout
        d = self.dialect
        self._binary = config.key_order == "binary"
        self._keys = tuple(d.quote(c) for c in layout.key_columns)
        self._values = tuple(
            d.text(d.quote(c)) if kind is None else d.hashed(d.quote(c), kind)
            for c, kind in zip(layout.value_columns, layout.hash_kinds, strict=True)
        )
        self._updated = d.quote(layout.updated_at) if layout.updated_at else None
        self._relation = (f"{d.quote(config.table)}" if config.table
                          else f"({d.escape_query(config.query or '')}) AS ow_q")

    # -- driver hook ---------------------------------------------------------------

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        raise NotImplementedError

    def _watch(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Let a cancellation of the check call ``stop`` (which ends this source's open
        connection from another thread) until the returned release is called; raises a
        ``cancelled`` SourceError if the check is cancelled already."""
        return watch(self.cancel, self.name, stop)

    def _live_batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        # A cancelled check starts no statement and reads no further batch.
        if self.cancel is not None:
            self.cancel.check(self.name)
        for batch in self._batches(sql, params):
            if self.cancel is not None:
                self.cancel.check(self.name)
            yield batch

    def _rows(self, sql: str, params: Sequence[object]) -> Iterator[Row]:
        for batch in self._live_batches(sql, params):
            yield from batch

    # -- SQL -----------------------------------------------------------------------

    def _select(self) -> str:
        d = self.dialect
        cols = [f"{d.text(k)}" for k in self._keys] + [d.concat(self._values)]
        if self._updated:
            cols.append(self._updated)
        return "SELECT " + ", ".join(cols) + f" FROM {self._relation}"

    def _order_by(self) -> str:
        return " ORDER BY " + ", ".join(self._sort_keys())

    def _sort_keys(self) -> list[str]:
        # The same expression orders rows and bounds key ranges, so both agree on bytes.
        binary = self._binary and not self._keys_sort_binary()
        return [self.dialect.order(k, binary) for k in self._keys]

    def _keys_sort_binary(self) -> bool:
        """Whether the table's key columns already sort by bytes (so an index can serve
        ``ORDER BY``); dialects that can tell override this.  Asked once per source."""
        return False

    def _key_text(self) -> str:
        parts = self._key_parts()
        return parts[0] if len(parts) == 1 else self.dialect.concat(parts)

    def _key_parts(self) -> list[str]:
        # A compound key's parts are length-prefixed in the hashed texts: plainly joined,
        # two different keys could hash (and checksum) as one.
        d = self.dialect
        if len(self._keys) == 1:
            return [d.text(self._keys[0])]
        return [d.key_part(d.text(k)) for k in self._keys]

    def _segment(self, modulus: int) -> str:
        d = self.dialect
        null = " OR ".join(f"{k} IS NULL" for k in self._keys)
        return (f"(CASE WHEN {null} THEN -1 ELSE "
                f"{d.key_hash(self._key_text())} {d.mod} {int(modulus)} END)")

    def _records(self, sql: str, params: Sequence[object]) -> Iterator[SourceRecord]:
        # The hottest loop of a full check: locals only, and tuple.__new__ because a
        # NamedTuple's own constructor is a Python function.
        nk = len(self._keys)
        nv = len(self._values)
        broken = (_CONTROL,) * nv
        new, cls, sep, null = tuple.__new__, SourceRecord, SEPARATOR, NULL_MARK
        u = nk + 1 if self._updated is not None else None
        for batch in self._live_batches(sql, params):
            for row in batch:
                text: str = row[nk]
                values: tuple[str | None, ...] = tuple(text.split(sep))
                if null in text:
                    values = tuple(None if v == null else v for v in values)
                if len(values) != nv:
                    values = broken  # a value held the separator: unreadable, not mis-split
                yield new(cls, (row[:nk], values, None if u is None else row[u]))

    # -- RecordSource --------------------------------------------------------------

    # The methods below are generators so that nothing, not even a metadata query,
    # touches the database before the first record is asked for: every failure then
    # surfaces inside the iteration, where the merge turns it into a failed report.

    def stream(self, since: datetime | None = None) -> Iterator[SourceRecord]:
        """Every record, sorted by key in the database (binary order by default)."""
        sql, params = self._select(), []
        if since is not None:
            if self._updated is None:
                raise ValueError(f"source {self.name!r} has no updated_at column")
            sql += f" WHERE {self.dialect.changed_since(self._updated)}"
            params.append(self.dialect.moment(since))
        yield from self._records(sql + self._order_by(), params)

    def stream_range(self, low: str | None, high: str | None) -> Iterator[SourceRecord]:
        """The records whose (single-column) key is in ``[low, high)`` in byte order;
        ``low=None`` also takes the NULL keys, so ranges that tile the key space see
        every row exactly once."""
        (expr,) = self._sort_keys()
        p = self.dialect.param
        where, params = [], []
        if low is not None:
            where.append(f"{expr} >= {p}")
            params.append(low)
        if high is not None:
            null = "" if low is not None else f" OR {self._keys[0]} IS NULL"
            where.append(f"({expr} < {p}{null})")
            params.append(high)
        sql = self._select() + (" WHERE " + " AND ".join(where) if where else "")
        yield from self._records(sql + self._order_by(), params)

    def split_keys(self, parts: int) -> list[str]:
        """Up to ``parts - 1`` keys cutting the (single-column) keys into equal ranges."""
        (expr,) = self._sort_keys()
        key = self._keys[0]
        rows = list(self._rows(f"SELECT COUNT({key}) FROM {self._relation}", []))
        total = int(rows[0][0]) if rows else 0
        cuts: list[str] = []
        for i in range(1, parts):
            sql = (f"SELECT {self.dialect.text(key)} FROM {self._relation} WHERE {key} IS NOT "
                   f"NULL ORDER BY {expr} LIMIT 1 OFFSET {int(total * i // parts)}")
            got = list(self._rows(sql, []))
            if got and (not cuts or got[0][0] > cuts[-1]):
                cuts.append(got[0][0])
        return cuts

    def fetch(self, keys: Sequence[Key]) -> Iterator[SourceRecord]:
        """The records of ``keys``, by an ``IN`` list of parameters on the key columns."""
        if not keys:
            return
        p = self.dialect.param
        if len(self._keys) == 1:
            where = f"{self._keys[0]} IN ({', '.join([p] * len(keys))})"
            params: list[object] = [k[0] for k in keys]
        else:
            tup = "(" + ", ".join([p] * len(self._keys)) + ")"
            where = f"({', '.join(self._keys)}) IN ({', '.join([tup] * len(keys))})"
            params = [part for k in keys for part in k]
        wanted = set(keys)
        # A case-insensitive collation may return 'c001' for 'C001': keep exact keys only.
        for r in self._records(f"{self._select()} WHERE {where}{self._order_by()}", params):
            if r.key in wanted:
                yield r

    def estimate_rows(self) -> int | None:
        """About how many rows the table holds, as the catalog says without reading it
        (for a progress estimate only); ``None`` for a query or when nobody knows.
        Dialects that can tell override this."""
        return None

    def sample_keys(self, n: int, seed: int) -> list[Key]:
        """``n`` random keys chosen by the database (its own random generator)."""
        d = self.dialect
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in self._keys)
        sql = (f"SELECT {', '.join(d.text(k) for k in self._keys)} FROM "
               f"(SELECT {', '.join(self._keys)} FROM {self._relation} WHERE {not_null} "
               f"ORDER BY {d.random()} LIMIT {int(n)}) AS ow_s")
        # Distinct in Python, by exact text: SQL DISTINCT in a case-insensitive or PAD
        # SPACE collation would merge 'c001' with 'C001' and 'x' with 'x '.
        return list(dict.fromkeys(tuple(row) for row in self._rows(sql, [])))

    # -- SegmentSource -------------------------------------------------------------

    def _row_text(self) -> str:
        d = self.dialect
        return d.concat(self._key_parts() + list(self._values))

    def _row_hash(self) -> str:
        return self.dialect.row_hash(self._row_text())

    def segment_hashes(self, modulus: int, segments: Sequence[int]
                       ) -> Iterator[tuple[Key, int]]:
        """``(key, row hash)`` of every non-NULL-key row of ``segments``, sorted by key."""
        d = self.dialect
        where = f"{self._segment(modulus)} IN ({', '.join([d.param] * len(segments))})"
        sql = (f"SELECT {', '.join(d.text(k) for k in self._keys)}, {self._row_hash()} "
               f"FROM {self._relation} WHERE {where}{self._order_by()}")
        nk = len(self._keys)
        for batch in self._live_batches(sql, [int(s) for s in segments]):
            for row in batch:
                yield row[:nk], int(row[nk])

    def segment_checksums(self, modulus: int, within: tuple[int, Sequence[int]] | None = None
                          ) -> dict[int, tuple[int, int]]:
        """Rows and summed row hashes per key-hash segment, computed by the database."""
        d = self.dialect
        sql = (f"SELECT {self._segment(modulus)} AS ow_seg, {self._row_hash()} AS ow_h "
               f"FROM {self._relation}")
        params: list[object] = []
        if within is not None:
            parent, segments = within
            sql += f" WHERE {self._segment(parent)} IN ({', '.join([d.param] * len(segments))})"
            params.extend(int(s) for s in segments)
        sql = f"SELECT ow_seg, COUNT(*), SUM(ow_h) FROM ({sql}) AS ow_c GROUP BY ow_seg"
        return {int(seg): (int(n), int(total)) for seg, n, total in self._rows(sql, params)}

    def fetch_segments(self, modulus: int, segments: Sequence[int]) -> Iterator[SourceRecord]:
        """Every record of ``segments``, sorted by key."""
        p = self.dialect.param
        where = f"{self._segment(modulus)} IN ({', '.join([p] * len(segments))})"
        yield from self._records(f"{self._select()} WHERE {where}{self._order_by()}",
                                 [int(s) for s in segments])

    # -- RangeSource (sources/ranges.py) ---------------------------------------------

    _bound_sql: tuple[str, str] | None = None

    def _bound(self, expr: str) -> str:
        """``expr`` (a key-range bound) as compared in the key column's own collation."""
        if self._bound_sql is None:
            got = ranges.collation(self)
            if got is None:  # range_capable() said yes: the catalog changed underneath
                raise SourceError(self.name, "query", "the key column is not text")
            self._bound_sql = got
        return self._bound_sql[0] + expr + self._bound_sql[1]

    def range_capable(self) -> bool:
        """Whether key ranges can be read through the key's index (one text key)."""
        return ranges.usable(self)

    def range_ranks(self, values: Sequence[str]) -> list[int]:
        """The dense rank of each of ``values`` in the key column's collation."""
        return ranges.ranks(self, values)

    def range_split_keys(self, segments: int, max_rows: int) -> tuple[list[str], int]:
        """Keys cutting this table into about ``segments`` ranges (sampled); row count."""
        return ranges.split_keys(self, segments, max_rows)

    def range_checksums(self, bounds: Sequence[str], segments: Sequence[int]
                        ) -> dict[int, tuple[int, str]]:
        """Per range of ``segments``: rows and the sum of their row hashes (as text)."""
        return ranges.checksums(self, bounds, segments)

    def range_hash_lists(self, bounds: Sequence[str], segments: Sequence[int]
                         ) -> dict[int, tuple[int, str]]:
        """Per range of ``segments``: rows and every row's ``key || hash`` in one text."""
        return ranges.hash_lists(self, bounds, segments)

    def null_key_records(self) -> Iterator[SourceRecord]:
        """The records with a NULL key."""
        return ranges.null_key_records(self)
