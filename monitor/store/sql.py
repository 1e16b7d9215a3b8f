"""The probe store over a DB-API connection; the backends only say how to connect.

Threading: :meth:`SqlProbeStore.record` is called from the scheduler's event loop and
only touches memory under a short lock.  :meth:`flush` (from a worker thread, every flush
interval and at shutdown) swaps the pending batch out and writes it in one transaction.
Queries and flushes share one connection behind a second lock, so a query waits for at
most one flush.  A crash loses the batch pending since the last flush, nothing older.

Outages: the connection is opened on first use and reopened (with backoff, see
:mod:`monitor.store.connection`) after it broke; every database failure surfaces as
:class:`StoreDown`.  The batch of a failed flush is kept, bounded by ``max_pending``
buckets: past that the oldest minute buckets are folded into hour buckets, and only
when even those do not fit are the oldest hours dropped (and counted).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from monitor.config.model import StoreConfig
from monitor.slo.budget import MONTH, Counts
from monitor.slo.flowtime import FlowHistogram
from monitor.slo.windows import window_seconds
from monitor.store import queries, schema
from monitor.store.alert_store import AlertStoreMixin
from monitor.store.buckets import (
    FLOW_COLUMNS,
    HOUR,
    MINUTE,
    VALUE_COLUMNS,
    Batch,
    BucketTotals,
    Incident,
    Tally,
    join_stored_incident,
)
from monitor.store.connection import Link, StoreDown
from monitor.store.queries import Kind, Resolution
from probes.result import ProbeResult

DEFAULT_MINUTE_RETENTION_SECONDS: Final = 48 * 3600.0
DEFAULT_HOUR_RETENTION_SECONDS: Final = 400 * 86400.0
DEFAULT_MAX_PENDING: Final = StoreConfig().max_pending
# Rolling windows up to a day are answered from minute buckets, longer ones from hours.
MINUTE_WINDOW_LIMIT_SECONDS: Final = 86400.0
_PRUNE_EVERY_SECONDS: Final = 3600.0
_PRUNE_NAMES_PER_TRANSACTION: Final = 500



class SqlProbeStore(AlertStoreMixin):
    """Probe history in minute and hour buckets per target and per channel, and
    alerting's state (:class:`~.alert_store.AlertStoreMixin`) on the same connection.

    Subclasses set ``dialect``, ``placeholder`` and ``driver_errors``, and pass
    ``connect`` (which opens a new DB-API connection).  The first connection is opened
    here, and its errors raised as the driver's; with ``lazy`` it is opened on first
    use instead, so a monitor started while its database is down keeps probing.
    ``clock`` is only used for results without ``started_at`` and for pruning.
    """

    dialect: str = "sqlite"
    placeholder: str = "?"
    driver_errors: tuple[type[Exception], ...] = ()

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        lazy: bool = False,
        max_pending: int = DEFAULT_MAX_PENDING,
        minute_retention_seconds: float = DEFAULT_MINUTE_RETENTION_SECONDS,
        hour_retention_seconds: float = DEFAULT_HOUR_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if minute_retention_seconds < MINUTE_WINDOW_LIMIT_SECONDS:
            # Windows up to a day are read from minute buckets: keep at least that.
            raise ValueError("minute bucket retention must be at least a day")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self._clock = clock
        self.minute_retention_seconds = minute_retention_seconds
        self.hour_retention_seconds = hour_retention_seconds
        self.max_pending = max_pending
        self._batch = Batch()
        self._batch_lock = threading.Lock()
        self._db_lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._open: dict[str, Incident] = {}
        # Until the open incidents are read from the database (a lazy store), the first
        # counted result of each target, to join the stored incidents to what followed.
        self._first_seen: dict[str, tuple[float, bool]] | None = None
        self._known_targets: dict[str, str] = {}  # target -> channel, as last written
        self._last_prune = 0.0
        self._writing = (0, 0)  # (buckets, probes) of the batch a flush is writing now
        self.aggregated_buckets = 0
        self.dropped_buckets = 0
        self.dropped_probes = 0
        self._link = Link(connect, self._prepare, self._classify, self._is_broken)
        if lazy:
            self._first_seen = {}
            return
        conn = connect()
        try:
            self._migrate(conn)
            self._load_open_incidents(conn)
        except BaseException:
            conn.close()
            raise
        self._link.adopt(conn)

    @property
    def _conn(self) -> Any:
        """The open connection (None while there is none)."""
        return self._link.conn

    def _classify(self, exc: BaseException) -> str:
        """A stable error class for ``exc`` (see :class:`StoreDown`)."""
        return "database"

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        """Whether ``exc`` left ``conn`` unusable, so the next use must reconnect."""
        return False

    def _prepare(self, conn: Any) -> None:
        """Ready a newly opened connection: schema, and the open incidents the first time."""
        self._migrate(conn)
        if self._first_seen is not None:
            self._load_open_incidents(conn)

    def buffered(self) -> tuple[int, int]:
        """``(buckets, probe results)`` held in memory, including a flush in progress."""
        with self._batch_lock:
            return (self._batch.buckets + self._writing[0],
                    self._batch.probes + self._writing[1])

    # -- writing -------------------------------------------------------------------------

    def record(self, channel: str, target: str, result: ProbeResult, excluded: bool) -> None:
        """Count one final probe result in memory; it is durable after the next flush."""
        t = result.started_at or self._clock()
        with self._batch_lock:
            self._batch.add(channel, target, t, result, excluded)
            if self._batch.buckets > self.max_pending:
                self._compact()
            if excluded:
                return
            if self._first_seen is not None and target not in self._first_seen:
                self._first_seen[target] = (t, result.success)
            current = self._open.get(target)
            if not result.success and current is None:
                incident = Incident(channel, target, t, None, result.reason)
                self._open[target] = incident
                self._batch.incidents[(target, t)] = incident
            elif result.success and current is not None:
                closed = Incident(channel, target, current.start, t, current.reason)
                del self._open[target]
                self._batch.incidents[(target, current.start)] = closed

    def flush(self) -> None:
        """Write everything recorded so far in one transaction; prune once an hour.

        If the write fails the batch is merged back, so the next flush retries it, and
        :class:`StoreDown` is raised.  Concurrent calls (the periodic flush and the one
        at shutdown) run one after the other, so an incident's close can never be
        overwritten by its older open.
        """
        with self._flush_lock:
            # (Re)connect before taking the batch: a lazy store's first connection joins
            # stored open incidents to the batch, which must still be in place.
            with self._db_lock:
                self._link.get()
            with self._batch_lock:
                batch, self._batch = self._batch, Batch()
                self._writing = (batch.buckets, batch.probes)
            try:
                if len(batch):
                    with self._db_lock, self._transaction() as cur:
                        written = self._write(cur, batch)
                    self._known_targets.update(written)
            except BaseException:
                self._requeue(batch)
                raise
            finally:
                self._writing = (0, 0)
            now = self._clock()
            if now - self._last_prune >= _PRUNE_EVERY_SECONDS:
                self.prune(now)

    def _requeue(self, batch: Batch) -> None:
        with self._batch_lock:
            # The older batch goes first, so later reasons and incidents win.
            batch.merge(self._batch)
            self._batch = batch
            if batch.buckets > self.max_pending:
                self._compact()

    def _compact(self) -> None:
        # Called with the batch lock held.
        done = self._batch.compact(self.max_pending)
        self.aggregated_buckets += done.aggregated_buckets
        self.dropped_buckets += done.dropped_buckets
        self.dropped_probes += done.dropped_probes

    def _write(self, cur: Any, batch: Batch) -> set[tuple[str, str]]:
        """Write ``batch``; return the (target, channel) pairs it made known."""
        p = self.placeholder
        rollups = batch.rollups()
        for table, rows in rollups.items():
            key = table.split("_")[0]
            updates = ", ".join(
                f"{c} = COALESCE(excluded.{c}, {table}.{c})"
                if c == "reason"
                else f"{c} = {table}.{c} + excluded.{c}"
                for c in VALUE_COLUMNS
            )
            self._upsert_buckets(
                cur,
                table,
                key,
                updates,
                [(name, start, *tally.values()) for (name, start), tally in rows.items()],
            )
        flows = [(name, start, *tally.flow.values())
                 for (name, start), tally in rollups["target_hour"].items() if tally.flow]
        if flows:
            self._upsert_buckets(cur, "flow_hour", "target",
                                 queries.flow_updates(self.dialect), flows, FLOW_COLUMNS)
        # The target map changes rarely: write only pairs this process has not written.
        # The last channel recorded for a target wins (batch keys keep insertion order).
        latest = {t: c for c, t, _ in (*batch.hours, *batch.minutes)}
        targets = {(t, c) for t, c in latest.items() if self._known_targets.get(t) != c}
        cur.executemany(
            f"INSERT INTO targets (target, channel) VALUES ({p}, {p}) "
            "ON CONFLICT (target) DO UPDATE SET channel = excluded.channel",
            sorted(targets),
        )
        cur.executemany(
            f"INSERT INTO incidents (target, start, end_ts, channel, reason) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (target, start) DO UPDATE "
            "SET end_ts = COALESCE(excluded.end_ts, incidents.end_ts)",
            [(i.target, i.start, i.end, i.channel, i.reason) for i in batch.incidents.values()],
        )
        return targets

    def _upsert_buckets(
        self, cur: Any, table: str, key: str, updates: str, rows: list[tuple[Any, ...]],
        columns: Sequence[str] = VALUE_COLUMNS,
    ) -> None:
        """Add ``rows`` into ``table``; a backend may override this with a bulk path."""
        cols = ", ".join(columns)
        marks = ", ".join([self.placeholder] * (len(columns) + 2))
        cur.executemany(
            f"INSERT INTO {table} ({key}, start, {cols}) VALUES ({marks}) "
            f"ON CONFLICT ({key}, start) DO UPDATE SET {updates}",
            rows,
        )

    def prune(self, now: float) -> None:
        """Delete minute buckets and hour buckets/incidents older than their retention.

        Deletes name by name along the ``(name, start)`` primary key, a few hundred names
        per short transaction, so a scrape or a flush never waits for a whole prune and
        no index on ``start`` alone is needed.  Resets the hourly timer of :meth:`flush`.
        """
        p = self.placeholder
        self._last_prune = now
        cuts = {
            "minute": int(now - self.minute_retention_seconds),
            "hour": int(now - self.hour_retention_seconds),
        }
        for kind in ("target", "channel"):
            # Every target ever flushed is in ``targets``; a channel may have been left
            # by its targets, so channels come from their own (small) tables.
            names_sql = (
                "SELECT target FROM targets"
                if kind == "target"
                else "SELECT channel FROM channel_hour UNION SELECT channel FROM channel_minute"
            )
            names = [r[0] for r in self._query(names_sql, [])]
            for resolution, cut in cuts.items():
                sql = f"DELETE FROM {kind}_{resolution} WHERE {kind} = {p} AND start < {p}"
                for i in range(0, len(names), _PRUNE_NAMES_PER_TRANSACTION):
                    chunk = names[i : i + _PRUNE_NAMES_PER_TRANSACTION]
                    with self._db_lock, self._transaction() as cur:
                        cur.executemany(sql, [(name, cut) for name in chunk])
                        if kind == "target" and resolution == "hour":
                            cur.executemany(
                                f"DELETE FROM flow_hour WHERE target = {p} AND start < {p}",
                                [(name, cut) for name in chunk])
        with self._db_lock, self._transaction() as cur:
            cur.execute(f"DELETE FROM incidents WHERE end_ts < {p}", (cuts["hour"],))

    # -- reading -------------------------------------------------------------------------

    def window_counts(
        self,
        kind: Kind,
        windows: Sequence[str],
        now: float,
        month_from: float | None = None,
        names: Sequence[str] | None = None,
    ) -> dict[str, dict[str, Counts]]:
        """Counts per name and window label, as :func:`monitor.slo.window_counts` defines.

        Windows up to a day come from minute buckets, longer ones (and ``month``, from
        ``month_from``) from hour buckets.  One scan per resolution computes every
        window at once.  ``names`` limits the answer; a name with no buckets is absent.
        """
        spans = [(w, now - window_seconds(w)) for w in windows]
        if month_from is not None:
            spans.append((MONTH, month_from))
        out: dict[str, dict[str, Counts]] = {}
        for resolution in ("minute", "hour"):
            mine = [
                (label, start)
                for label, start in spans
                if (resolution == "minute")
                == (label != MONTH and now - start <= MINUTE_WINDOW_LIMIT_SECONDS)
            ]
            if not mine:
                continue
            self._window_scan(kind, resolution, mine, now, names, out)
        return out

    def _window_scan(
        self,
        kind: Kind,
        resolution: Resolution,
        spans: Sequence[tuple[str, float]],
        now: float,
        names: Sequence[str] | None,
        out: dict[str, dict[str, Counts]],
    ) -> None:
        sql, params = queries.window_scan(kind, resolution, spans, now, names, self.placeholder)
        queries.window_rows(self._query(sql, params), spans, out)

    def series(
        self, kind: Kind, name: str, resolution: Resolution, start: float, end: float
    ) -> list[BucketTotals]:
        """The stored buckets of one target or channel whose start lies in ``[start, end)``."""
        sql, params = queries.series(kind, name, resolution, start, end, self.placeholder)
        return [queries.bucket_totals(row) for row in self._query(sql, params)]

    def totals(
        self, kind: Kind, start: float, end: float, names: Sequence[str] | None = None
    ) -> dict[str, BucketTotals]:
        """Hour buckets summed per name over ``[start, end)`` (the monthly report's view)."""
        sql, params = queries.totals(kind, start, end, names, self.placeholder)
        return {row[0]: queries.bucket_totals((*row[1:], None))
                for row in self._query(sql, params)}

    def flow_hours(self, start: float, end: float, names: Sequence[str] | None = None
                   ) -> dict[str, list[FlowHistogram]]:
        """The flow-time histograms per target and hour whose start lies in ``[start, end)``,
        in order; a target without successful runs there is absent."""
        sql, params = queries.flow_hours(start, end, names, self.placeholder)
        out: dict[str, list[FlowHistogram]] = {}
        for row in self._query(sql, params):
            out.setdefault(row[0], []).append(queries.flow_histogram(row[1:]))
        return out

    def flow_first(self, names: Sequence[str] | None = None) -> dict[str, float]:
        """The first hour with a successful run, per flow target (a plan's default start)."""
        sql, params = queries.flow_first(names, self.placeholder)
        return {row[0]: float(row[1]) for row in self._query(sql, params)}

    def targets(self) -> dict[str, str]:
        """Every target that ever recorded a probe, mapped to its channel."""
        return dict(self._query("SELECT target, channel FROM targets", []))

    def incidents(
        self,
        start: float,
        end: float,
        channel: str | None = None,
        target: str | None = None,
    ) -> list[Incident]:
        """Incidents overlapping ``[start, end)``, flushed ones only, ordered by start."""
        sql, params = queries.incidents(start, end, channel, target, self.placeholder)
        return [queries.incident(r) for r in self._query(sql, params)]

    def schema_version(self) -> int:
        """The schema version this store is at."""
        rows = self._query("SELECT MAX(version) FROM schema_version", [])
        return int(rows[0][0] or 0)

    def close(self) -> int:
        """Write what is pending (one more try even while backing off), then close.

        Never raises: at shutdown, an unreachable database must not turn a clean exit
        into a traceback.  Returns the probe results that could not be written.
        """
        self._link.retry_now()
        with contextlib.suppress(StoreDown):
            self.flush()
        with self._db_lock:
            self._link.close()
        return self.buffered()[1]

    # -- plumbing ------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._db_lock, self._transaction() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())


    # -- consistency history ---------------------------------------------------------------

    def record_consistency(self, run: Mapping[str, Any]) -> None:
        """Store one consistency run (a ``report_to_dict`` view; samples are not stored)."""
        sql, row = queries.insert_run(run, self.placeholder)
        with self._db_lock, self._transaction() as cur:
            cur.execute(sql, row)

    def consistency_history(self, since: float, channel: str | None = None, *,
                            until: float | None = None, datasets: Sequence[str] = ()
                            ) -> list[dict[str, Any]]:
        """Consistency runs started in ``[since, until)`` (of ``datasets``, if any given),
        oldest first."""
        sql, params = queries.runs_since(since, channel, self.placeholder, until, datasets)
        return [queries.run_of(r) for r in self._query(sql, params)]

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction on the (re)opened connection.

        Committed on success, rolled back on error; a driver error becomes
        :class:`StoreDown`, and a connection it broke is dropped for the next use.
        """
        conn = self._link.get()
        try:
            with self._tx(conn) as cur:
                yield cur
        except self.driver_errors as exc:
            raise self._link.failed(exc) from exc

    @contextmanager
    def _tx(self, conn: Any) -> Iterator[Any]:
        cur = conn.cursor()
        try:
            self._begin(cur)
            yield cur
            conn.commit()
        except BaseException:
            # A lost connection cannot roll back either: the original error matters.
            with contextlib.suppress(*self.driver_errors):
                conn.rollback()
            raise
        finally:
            with contextlib.suppress(*self.driver_errors):
                cur.close()

    def _begin(self, cur: Any) -> None:
        """Open a transaction explicitly where the driver does not (SQLite)."""

    def _migrate(self, conn: Any) -> None:
        p = self.placeholder
        with self._db_lock:
            with self._tx(conn) as cur:
                cur.execute(schema.VERSION_TABLE)
                cur.execute("SELECT MAX(version) FROM schema_version")
                current = int(cur.fetchone()[0] or 0)
            for version in range(current + 1, schema.LATEST_VERSION + 1):
                with self._tx(conn) as cur:
                    for statement in schema.statements(version, self.dialect):
                        cur.execute(statement)
                    cur.execute(
                        f"INSERT INTO schema_version (version, applied_at) VALUES ({p}, {p})",
                        (version, time.time()),
                    )

    def _load_open_incidents(self, conn: Any) -> None:
        # An incident open at a crash or shutdown continues: the target's next counted
        # result either keeps it open or closes it.
        with self._tx(conn) as cur:
            cur.execute(
                "SELECT channel, target, start, reason FROM incidents WHERE end_ts IS NULL")
            rows = list(cur.fetchall())
        with self._batch_lock:
            first_seen, self._first_seen = self._first_seen or {}, None
            for channel, target, start, reason in rows:
                stored = Incident(channel, target, float(start), None, reason)
                join_stored_incident(self._batch, self._open, stored, first_seen.get(target))


__all__ = ["HOUR", "MINUTE", "Kind", "Resolution", "SqlProbeStore", "Tally"]
