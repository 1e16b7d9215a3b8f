"""Durable probe history: minute and hour buckets, incidents, schema migrations.

:class:`ProbeStore` is the interface the scheduler, the SLO collector, the CLI and the
report use; :func:`open_store` picks the backend from the configuration.  See
``docs/slo.md`` for retention, durability and the query paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from monitor.model import StoreConfig
from monitor.slo import Counts
from monitor.store.buckets import BucketTotals, Incident
from monitor.store.sql import Kind, Resolution, SqlProbeStore
from probes.result import ProbeResult


class ProbeStore(Protocol):
    """What every backend offers. Writes are batched; reads see flushed data only."""

    def record(self, channel: str, target: str, result: ProbeResult, excluded: bool) -> None:
        """Count one final probe result in memory (cheap; no I/O)."""

    def flush(self) -> None:
        """Write the pending batch in one transaction (blocking: run it off the loop)."""

    def window_counts(
        self,
        kind: Kind,
        windows: Sequence[str],
        now: float,
        month_from: float | None = None,
        names: Sequence[str] | None = None,
    ) -> dict[str, dict[str, Counts]]:
        """Counts per channel or target name and window label."""

    def series(
        self, kind: Kind, name: str, resolution: Resolution, start: float, end: float
    ) -> list[BucketTotals]:
        """The buckets of one channel or target in ``[start, end)``."""

    def totals(
        self, kind: Kind, start: float, end: float, names: Sequence[str] | None = None
    ) -> dict[str, BucketTotals]:
        """Hour buckets summed per name over ``[start, end)``."""

    def targets(self) -> dict[str, str]:
        """Every target seen, mapped to its channel."""

    def incidents(
        self, start: float, end: float, channel: str | None = None, target: str | None = None
    ) -> list[Incident]:
        """Incidents overlapping ``[start, end)``."""

    def prune(self, now: float) -> None:
        """Apply retention."""

    def close(self) -> None:
        """Flush and release the database."""


def open_store(config: StoreConfig, **options: Any) -> SqlProbeStore:
    """The store ``config`` names: PostgreSQL when a DSN is given, else the SQLite file."""
    if config.postgres_dsn:
        from monitor.store.postgres import PostgresProbeStore

        return PostgresProbeStore(config.postgres_dsn, **options)
    from monitor.store.sqlite import SqliteProbeStore

    return SqliteProbeStore(config.sqlite_path or "omniwatch.db", **options)


__all__ = ["BucketTotals", "Incident", "Kind", "ProbeStore", "Resolution", "open_store"]
