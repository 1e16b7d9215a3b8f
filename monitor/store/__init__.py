"""Durable probe history: minute and hour buckets, incidents, schema migrations.

:class:`ProbeStore` is the interface the scheduler, the SLO collector, the CLI and the
report use; :func:`open_store` picks the backend from the configuration.  See
``docs/slo.md`` for retention, durability and the query paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from monitor.config.model import StoreConfig
from monitor.slo.budget import Counts
from monitor.slo.flowtime import FlowHistogram
from monitor.store.buckets import BucketTotals, Incident
from monitor.store.connection import StoreDown
from monitor.store.sql import Kind, Resolution, SqlProbeStore
from probes.result import ProbeResult

if TYPE_CHECKING:
    from alerts.store import AlertStore


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

    def flow_hours(self, start: float, end: float, names: Sequence[str] | None = None
                   ) -> dict[str, list[FlowHistogram]]:
        """Flow-time histograms per flow target and hour in ``[start, end)``."""

    def flow_first(self, names: Sequence[str] | None = None) -> dict[str, float]:
        """The first hour with a successful run, per flow target."""

    def targets(self) -> dict[str, str]:
        """Every target seen, mapped to its channel."""

    def incidents(
        self, start: float, end: float, channel: str | None = None, target: str | None = None
    ) -> list[Incident]:
        """Incidents overlapping ``[start, end)``."""

    def prune(self, now: float) -> None:
        """Apply retention."""

    def close(self) -> int:
        """Flush what it can and release the database; never raises.

        Returns the probe results it could not write."""

    def buffered(self) -> tuple[int, int]:
        """``(buckets, probe results)`` waiting in memory to be written."""

    def consistency_history(self, since: float, channel: str | None = None, *,
                            until: float | None = None, datasets: Sequence[str] = ()
                            ) -> list[dict[str, Any]]:
        """Consistency runs started in ``[since, until)``, oldest first."""

    @property
    def aggregated_buckets(self) -> int:
        """Minute buckets folded into hour buckets to keep the buffer under its cap."""

    @property
    def dropped_probes(self) -> int:
        """Probe results thrown away because even hour buckets did not fit the cap."""


class StoreUnavailable(Exception):
    """The history database cannot be opened; the message never includes the DSN."""


def open_store(config: StoreConfig, **options: Any) -> SqlProbeStore:
    """The store ``config`` names: PostgreSQL when a DSN is given, else the SQLite file.

    Raises :class:`StoreUnavailable` when the database cannot be reached or migrated;
    with ``lazy=True`` nothing is opened yet, so this cannot happen (see ``SqlProbeStore``).
    """
    options.setdefault("max_pending", config.max_pending)
    if config.postgres_dsn:
        import psycopg

        from monitor.redact import postgres_error
        from monitor.store.postgres import PostgresProbeStore

        try:
            return PostgresProbeStore(config.postgres_dsn, **options)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot open the PostgreSQL history store (store.postgres): "
                                   f"{postgres_error(exc, config.postgres_dsn)}") from None
    import sqlite3

    from monitor.store.sqlite import SqliteProbeStore

    path = config.sqlite_path or "omniwatch.db"
    try:
        return SqliteProbeStore(path, **options)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open the SQLite history store {path}: {exc}") from None


if TYPE_CHECKING:

    def _is_an_alert_store(store: SqlProbeStore) -> AlertStore:
        # Never called: mypy checks here that every store open_store returns
        # implements alerting's interface (alerts.store.AlertStore).
        return store


__all__ = ["BucketTotals", "Incident", "Kind", "ProbeStore", "Resolution", "StoreDown",
           "StoreUnavailable", "open_store"]
