"""Plain, frozen data of the consistency engine: configuration, records, outcomes, reports.

Values travel as text: every source converts what its driver returns into ``str`` (or
``None``) at the edge, so normalisers and the comparison never see driver types.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

Key = tuple[str, ...]
"""A record key: one string per key field, compared by code point (= UTF-8 byte order)."""


class Unreadable(str):
    """A value a source could read but not represent as text (a JSON object, a boolean…).

    It is a ``str`` so records stay uniformly typed; normalisers reject it with ``reason``.
    """

    reason: str

    def __new__(cls, reason: str) -> Unreadable:
        obj = super().__new__(cls, "")
        obj.reason = reason
        return obj


class SourceRecord(NamedTuple):
    """One row as a source yields it, before normalisation.

    ``key`` has one part per key field; a ``None`` part makes the record ``invalid``
    (it cannot be matched).  ``values`` follow ``ConsistencyConfig.fields``.
    ``updated_at`` is parsed only when a difference needs it, so it may still be text.
    """

    key: tuple[str | None, ...]
    values: tuple[str | None, ...]
    updated_at: datetime | str | None = None


class Outcome(StrEnum):
    """How one key ends up, per channel, compared with the reference."""

    MATCH = "match"
    MISMATCH = "mismatch"
    MISSING = "missing"  # in the reference, not in the channel
    EXTRA = "extra"  # in the channel, not in the reference
    INVALID = "invalid"  # fails normalisation or schemas/customer.schema.json, or NULL key
    DUPLICATE_KEY = "duplicate_key"
    PENDING_SYNC = "pending_sync"  # differs, but changed within the grace window


NORMALISER_KINDS = ("text", "email", "phone", "id_number", "date", "number", "enum", "exact")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one canonical field is normalised and compared.

    ``kind`` is one of :data:`NORMALISER_KINDS`.  ``tolerance`` applies to ``number``;
    ``mapping`` (raw → canonical, matched case-insensitively) to ``enum``; ``formats``
    (``strptime`` patterns) to ``date``.  A ``hashed`` field is hashed with the salt by
    the source, ideally inside the database, and compared as an opaque digest.
    """

    name: str
    kind: str = "text"
    tolerance: Decimal | None = None
    mapping: tuple[tuple[str, str], ...] = ()
    formats: tuple[str, ...] = ()
    hashed: bool = False


@dataclass(frozen=True, slots=True)
class Pagination:
    """How an ``http`` source walks its pages.

    ``style`` is ``page`` (page number + size), ``offset`` (row offset + size) or
    ``cursor`` (an opaque cursor taken from ``next_path`` in each answer).
    """

    style: str = "page"
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = 1000
    first_page: int = 1
    cursor_param: str = "cursor"
    next_path: str = "next_cursor"
    items_path: str = "items"


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Where one channel's customer records come from.

    ``columns`` maps every canonical field (key fields included) to the source's column,
    JSON property or CSV header; a field absent from it uses its own name.
    ``key_order`` ``binary`` makes the database sort by bytes (always correct);
    ``native`` trusts the column's own collation (uses an index) and relies on the
    merge's order check to fail loudly if that collation is not binary.
    """

    name: str
    kind: str
    dsn: str | None = None
    path: str | None = None
    url: str | None = None
    table: str | None = None
    query: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    updated_at: str | None = None
    timeout_seconds: float = 60.0
    key_order: str = "binary"
    fetch_size: int = 5000
    headers: tuple[tuple[str, str], ...] = ()
    pagination: Pagination = Pagination()

    def column(self, canonical: str) -> str:
        """The source's name for canonical field ``canonical``."""
        for name, col in self.columns:
            if name == canonical:
                return col
        return canonical


@dataclass(frozen=True, slots=True)
class ChecksumSettings:
    """Tuning of ``checksum`` mode; the defaults suit tables of 10^4 to 10^8 rows.

    Rows are spread over ``segments`` hash segments; a differing segment holding more
    than ``max_fetch_rows`` is split ``split_factor`` ways (bisection in hash space);
    in smaller ones, per-row hashes are compared (``fetch_batch_segments`` segments per
    query) and only differing rows fetched.  When differing segments hold more than
    ``dense_ratio`` of all rows the pair is streamed in full instead.
    """

    segments: int = 4096
    max_fetch_rows: int = 4096
    split_factor: int = 16
    dense_ratio: float = 0.3
    fetch_batch_segments: int = 8192


@dataclass(frozen=True, slots=True)
class ConsistencyConfig:
    """One dataset of the ``consistency:`` section, validated and typed.

    ``sources`` holds the reference first.  ``grace_seconds`` is the pending-sync window.
    ``dataset`` names it (``customers`` for the single-dataset form of the section); the
    engine checks one dataset at a time.  ``full_every_seconds``: with
    ``schedule_mode`` ``incremental``, how often a scheduled run is a whole one instead
    (``mode``; ``None``: never).
    """

    reference: str
    key: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    sources: tuple[SourceConfig, ...]
    objective: float = 0.99
    grace_seconds: float = 600.0
    hash_salt: str | None = None
    mode: str = "full"  # for ad-hoc checks (the CLI's default)
    schedule_mode: str = "full"  # for checks run by the scheduler every interval_seconds
    interval_seconds: float = 3600.0
    sample_size: int = 1000
    max_samples: int = 20
    workers: int = 1  # full mode over SQL sources: processes, each merging one key range
    checksum: ChecksumSettings = ChecksumSettings()
    dataset: str = "customers"
    full_every_seconds: float | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        """The compared fields, in record order."""
        return tuple(f.name for f in self.fields)

    @property
    def channels(self) -> tuple[str, ...]:
        """Every source but the reference, in configuration order."""
        return tuple(s.name for s in self.sources if s.name != self.reference)

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``; ``KeyError`` when there is none."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One differing field in a sample: values are masked (``138****0000``), never clear."""

    field: str
    reference: str | None
    channel: str | None


@dataclass(frozen=True, slots=True)
class KeySample:
    """One non-matching key kept as an example: masked diffs, or the reason it is invalid."""

    key: str
    outcome: Outcome
    diffs: tuple[FieldDiff, ...] = ()
    reason: str | None = None


JUDGED = (Outcome.MATCH, Outcome.MISMATCH, Outcome.MISSING, Outcome.EXTRA, Outcome.INVALID,
          Outcome.DUPLICATE_KEY)
"""Outcomes in the ratio's denominator: every key but those pending sync."""


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    """The result of comparing one channel with the reference.

    ``counts`` has every :class:`Outcome`; ``ratio`` is matches over *judged* keys: all
    keys seen on either side except ``pending_sync`` ones (their sync is in flight, so
    they are neither good nor bad).  A check that could not complete has ``error`` set
    and no ratio: a broken source never reads as 0% or 100%.  In ``sample`` mode,
    ``interval`` is the 95% Wilson score interval of the ratio.
    """

    reference: str
    channel: str
    mode: str
    started_at: datetime
    duration_seconds: float
    objective: float
    counts: Mapping[Outcome, int] = field(default_factory=dict)
    field_mismatches: Mapping[str, int] = field(default_factory=dict)
    samples: tuple[KeySample, ...] = ()
    rows_read: Mapping[str, int] = field(default_factory=dict)
    rows_checksummed: int = 0
    error: str | None = None
    interval: tuple[float, float] | None = None
    next_watermark: datetime | None = None
    dataset: str = "customers"

    @property
    def judged(self) -> int:
        """The ratio's denominator."""
        return sum(self.counts.get(o, 0) for o in JUDGED)

    @property
    def ratio(self) -> float | None:
        """Consistent share of judged keys; ``None`` on error or when nothing was judged."""
        if self.error is not None or self.judged == 0:
            return None
        return self.counts.get(Outcome.MATCH, 0) / self.judged

    @property
    def success(self) -> bool:
        """Whether the check ran to completion (regardless of the ratio)."""
        return self.error is None

    @property
    def meets_objective(self) -> bool:
        """True when the check succeeded and the ratio is at or above the objective."""
        r = self.ratio
        return r is not None and (r >= self.objective or math.isclose(r, self.objective))
