"""Turning outcomes into a :class:`ConsistencyReport`: tallies, masking, JSON, intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from monitor.consistency.model import (
    ConsistencyReport,
    FieldDiff,
    KeySample,
    Outcome,
)


def mask(value: str | None, kind: str = "text", *, hashed: bool = False) -> str | None:
    """A value safe to show.

    Phone and ID numbers keep their first 3 and last 4 characters, as banks print them
    (``13800000000`` → ``138****0000``); anything else keeps only its first character
    (``Zhang San`` → ``Z********``).  Digests (``hashed``) are shortened, not masked.
    """
    if value is None:
        return None
    if hashed:
        return value[:8] + "…"
    n = len(value)
    if kind in ("phone", "id_number") and n >= 8:
        return value[:3] + "*" * (n - 7) + value[-4:]
    if n >= 2:
        return value[0] + "*" * (n - 1)
    return "*"


class Tally:
    """Mutable per-channel counters filled by a comparison, frozen by :meth:`finish`."""

    __slots__ = ("channel", "counts", "error", "field_mismatches", "max_samples", "reference",
                 "rows_checksummed", "rows_read", "samples")

    def __init__(self, reference: str, channel: str, max_samples: int = 20) -> None:
        self.reference = reference
        self.channel = channel
        self.max_samples = max_samples
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
        self.field_mismatches: dict[str, int] = {}
        self.samples: list[KeySample] = []
        self.rows_read: dict[str, int] = {reference: 0, channel: 0}
        self.rows_checksummed = 0
        self.error: str | None = None

    def add(self, outcome: Outcome, n: int = 1) -> None:
        """Count ``n`` keys as ``outcome`` (no sample)."""
        self.counts[outcome] += n

    def add_field_mismatches(self, fields: tuple[str, ...]) -> None:
        """Count one mismatch per field in ``fields``."""
        for f in fields:
            self.field_mismatches[f] = self.field_mismatches.get(f, 0) + 1

    def wants_sample(self) -> bool:
        """Whether another example key would still be kept."""
        return len(self.samples) < self.max_samples

    def sample(self, key: str, outcome: Outcome, diffs: tuple[FieldDiff, ...] = (),
               reason: str | None = None) -> None:
        """Keep an example (callers mask values first); ignored once the bound is reached."""
        if len(self.samples) < self.max_samples:
            self.samples.append(KeySample(key, outcome, diffs, reason))

    def fail(self, error: str) -> None:
        """Mark the check failed; the first error wins."""
        if self.error is None:
            self.error = error

    def merge(self, other: Tally) -> None:
        """Add the counts of ``other`` (a part of the same channel's check) to this one."""
        for o, n in other.counts.items():
            self.counts[o] += n
        for f, n in other.field_mismatches.items():
            self.field_mismatches[f] = self.field_mismatches.get(f, 0) + n
        for s in other.samples:
            if len(self.samples) < self.max_samples:
                self.samples.append(s)
        for src, n in other.rows_read.items():
            self.rows_read[src] = self.rows_read.get(src, 0) + n
        self.rows_checksummed += other.rows_checksummed
        if other.error is not None:
            self.fail(other.error)

    def finish(self, *, mode: str, started_at: datetime, duration_seconds: float,
               objective: float, interval: tuple[float, float] | None = None,
               next_watermark: datetime | None = None) -> ConsistencyReport:
        """The frozen report.

        A failed check carries no outcome counts, field mismatches, samples or interval:
        they would describe the part read before the failure, never the channel.  Only
        ``rows_read`` stays, to tell how far it got.
        """
        failed = self.error is not None
        return ConsistencyReport(
            reference=self.reference, channel=self.channel, mode=mode, started_at=started_at,
            duration_seconds=duration_seconds, objective=objective,
            counts=MappingProxyType({} if failed else dict(self.counts)),
            field_mismatches=MappingProxyType(
                {} if failed else dict(sorted(self.field_mismatches.items()))),
            samples=() if failed else tuple(self.samples),
            rows_read=MappingProxyType(dict(self.rows_read)),
            rows_checksummed=self.rows_checksummed, error=self.error,
            interval=None if failed else interval,
            next_watermark=None if failed else next_watermark,
        )


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054
                    ) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default) for ``successes`` out of ``n``."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def report_to_dict(report: ConsistencyReport) -> dict[str, Any]:
    """A JSON-ready view of ``report`` (for ``--json`` and the API); values stay masked."""

    def counts(m: Mapping[Any, int]) -> dict[str, int]:
        return {str(k): v for k, v in m.items()}

    return {
        "dataset": report.dataset,
        "reference": report.reference,
        "channel": report.channel,
        "mode": report.mode,
        "success": report.success,
        "error": report.error,
        "ratio": report.ratio,
        "ratio_denominator": "keys on either side except pending_sync",
        "interval95": list(report.interval) if report.interval else None,
        "objective": report.objective,
        "meets_objective": report.meets_objective,
        # A failed run has no judged keys, counts or fields: null, never partial numbers.
        "judged": report.judged if report.success else None,
        "counts": counts(report.counts) if report.success else None,
        "field_mismatches": counts(report.field_mismatches) if report.success else None,
        "rows_read": counts(report.rows_read),
        "rows_checksummed": report.rows_checksummed,
        "started_at": report.started_at.isoformat(),
        "duration_seconds": round(report.duration_seconds, 6),
        "next_watermark": report.next_watermark.isoformat() if report.next_watermark else None,
        "samples": [
            {"key": s.key, "outcome": str(s.outcome), "reason": s.reason,
             "fields": [{"field": d.field, "reference": d.reference, "channel": d.channel}
                        for d in s.diffs]}
            for s in report.samples
        ],
    }
