"""The one narrow interface every record source adapts, and helpers shared by adapters.

A :class:`RecordSource` yields :class:`SourceRecord` sorted by key in code-point order
(UTF-8 byte order, what PostgreSQL's ``"C"`` collation, MySQL's ``BINARY`` and SQLite's
``BINARY`` give).  A :class:`SegmentSource` (the SQL databases) can also sum hashes of
rows inside the database, per hash segment of the key, for ``checksum`` mode.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from monitor.consistency.compare import as_utc
from monitor.consistency.errors import InvalidValue
from monitor.consistency.model import (
    ConsistencyConfig,
    Key,
    SourceConfig,
    SourceRecord,
    Unreadable,
)
from monitor.consistency.normalise import hash_value


@runtime_checkable
class RecordSource(Protocol):
    """Reads one channel's customer records."""

    name: str

    def stream(self, since: datetime | None = None) -> Iterator[SourceRecord]:
        """Every record (changed at or after ``since``, if given), sorted by key.

        Raises :class:`~monitor.consistency.errors.SourceError` when the source is down,
        times out or returns something unusable, at any point of the iteration.
        """
        ...

    def fetch(self, keys: Sequence[Key]) -> Iterator[SourceRecord]:
        """The records of ``keys`` (sorted), duplicates included; absent keys are skipped."""
        ...

    def sample_keys(self, n: int, seed: int) -> list[Key]:
        """Up to ``n`` distinct non-NULL keys drawn at random (``seed`` where supported)."""
        ...


@runtime_checkable
class SegmentSource(RecordSource, Protocol):
    """A source that computes per-segment row counts and checksums itself.

    Segment ``s`` of ``modulus`` holds the keys whose 32-bit key hash ``% modulus == s``;
    ``-1`` holds records with a NULL key part.  Both sides of a comparison compute the
    same hash over the same canonical text, so equal segments hold equal rows.
    """

    def segment_checksums(self, modulus: int, within: tuple[int, Sequence[int]] | None = None
                          ) -> dict[int, tuple[int, int]]:
        """``{segment: (rows, checksum)}``, optionally only inside ``(modulus, segments)``."""
        ...

    def fetch_segments(self, modulus: int, segments: Sequence[int]) -> Iterator[SourceRecord]:
        """Every record of ``segments`` of ``modulus``, sorted by key."""
        ...

    def segment_hashes(self, modulus: int, segments: Sequence[int]
                       ) -> Iterator[tuple[Key, int]]:
        """``(key, row hash)`` of the non-NULL-key rows of ``segments``, sorted by key."""
        ...


@runtime_checkable
class RangeSource(SegmentSource, Protocol):
    """A source whose single text key is indexed, so that key ranges are read cheaply
    (see ``sources/ranges.py``).  Segment ``i`` of ``bounds`` holds ``bounds[i-1] <= key
    < bounds[i]`` in the key column's own collation (first and last open)."""

    def range_capable(self) -> bool:
        """Whether this source's table can be cut into key ranges."""
        ...

    def range_split_keys(self, segments: int, max_rows: int) -> tuple[list[str], int]:
        """Distinct keys, in the table's order, cutting it into about ``segments``
        ranges, and the number of non-NULL keys."""
        ...

    def range_ranks(self, values: Sequence[str]) -> list[int]:
        """The dense rank of each of ``values`` in the key column's collation."""
        ...

    def range_checksums(self, bounds: Sequence[str], segments: Sequence[int]
                        ) -> dict[int, tuple[int, str]]:
        """``{segment: (rows, checksum)}`` of the non-empty ``segments``."""
        ...

    def range_hash_lists(self, bounds: Sequence[str], segments: Sequence[int]
                         ) -> dict[int, tuple[int, str]]:
        """``{segment: (rows, text)}``: each row's ``key || 16 hex digits`` joined by U+001E."""
        ...

    def null_key_records(self) -> Iterator[SourceRecord]:
        """The records with a NULL key."""
        ...


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a source finds each canonical field, and which fields it must hash."""

    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]
    updated_at: str | None
    hash_kinds: tuple[str | None, ...]  # per value: the normaliser kind when hashed
    salt: str | None

    @classmethod
    def of(cls, config: ConsistencyConfig, source: SourceConfig) -> Layout:
        """The layout of ``source`` within ``config``."""
        return cls(
            key_columns=tuple(source.column(k) for k in config.key),
            value_columns=tuple(source.column(f.name) for f in config.fields),
            updated_at=source.updated_at,
            hash_kinds=tuple(f.kind if f.hashed else None for f in config.fields),
            salt=config.hash_salt,
        )

    def hash_in_python(self, values: tuple[str | None, ...]) -> tuple[str | None, ...]:
        """Hash the ``hash_fields`` of a record read by a source without a database."""
        if self.salt is None or not any(self.hash_kinds):
            return values
        salt = self.salt
        return tuple(v if k is None else hash_value(k, salt, v)
                     for k, v in zip(self.hash_kinds, values, strict=True))


def changed_since(record: SourceRecord, since: datetime) -> bool:
    """Whether ``record`` changed at or after ``since``; unknown times count as changed."""
    if record.updated_at is None:
        return True
    try:
        return as_utc(record.updated_at) >= as_utc(since)
    except InvalidValue:
        return True


def only_keys(records: Iterable[SourceRecord], keys: Sequence[Key]) -> Iterator[SourceRecord]:
    """The records of ``keys`` out of a full stream (sources without lookups)."""
    wanted = set(keys)
    for rec in records:
        if rec.key in wanted:
            yield rec


def reservoir(records: Iterable[SourceRecord], n: int, seed: int) -> list[Key]:
    """``n`` distinct keys drawn uniformly from a key-sorted stream in one pass."""
    rng = random.Random(seed)
    chosen: list[Key] = []
    seen = 0
    last: tuple[str | None, ...] | None = None
    for rec in records:
        if None in rec.key or rec.key == last:
            continue
        last = rec.key
        seen += 1
        key: Key = rec.key  # type: ignore[assignment]  # NULL parts skipped above
        if len(chosen) < n:
            chosen.append(key)
        else:
            j = rng.randrange(seen)
            if j < n:
                chosen[j] = key
    return chosen


def _text(value: Any, column: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return Unreadable("not text or a number")


def record_from_object(obj: Any, layout: Layout, unkeyed: tuple[None, ...],
                       blank: tuple[None, ...]) -> SourceRecord:
    """A record from one decoded JSON object; anything but an object has no key."""
    if not isinstance(obj, dict):
        return SourceRecord(unkeyed, blank, None)
    key = []
    for c in layout.key_columns:
        k = obj.get(c)
        key.append(str(k) if isinstance(k, str | int) and not isinstance(k, bool) and k != ""
                   else None)
    values = tuple(_text(obj.get(c), c) for c in layout.value_columns)
    updated = obj.get(layout.updated_at) if layout.updated_at else None
    return SourceRecord(tuple(key), layout.hash_in_python(values),
                        updated if isinstance(updated, str) else None)
