"""PostgreSQL source: psycopg 3, read-only transaction, statement timeout, streamed rows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from itertools import islice

import psycopg
from psycopg import errors as pg_errors

from monitor.consistency.errors import SourceError
from monitor.consistency.sources.dialects import PostgresDialect
from monitor.consistency.sources.sql import Row, SqlSource
from monitor.redact import postgres_error


class PostgresSource(SqlSource):
    """Customer records in a PostgreSQL table or query (``kind: postgres``)."""

    dialect = PostgresDialect()
    _binary_keys: bool | None = None

    def _keys_sort_binary(self) -> bool:
        # A key column in collation "C" (or POSIX) sorts by bytes: ordering and key ranges
        # on the bare column then use its index, which CAST(k AS text) COLLATE "C" may not.
        if self._binary_keys is None:
            self._binary_keys = False
            table = self.config.table
            if table:
                schema, _, name = table.rpartition(".")
                sql = ("SELECT column_name, collation_name FROM information_schema.columns "
                       "WHERE table_schema = COALESCE(%s, current_schema()) AND table_name = %s")
                found: dict[str, str | None] = dict(self._rows(sql, [schema or None, name]))
                self._binary_keys = all(found.get(c) in ("C", "POSIX")
                                        for c in self.layout.key_columns)
        return self._binary_keys

    def estimate_rows(self) -> int | None:
        """``pg_class.reltuples``: what the last ANALYZE or VACUUM counted."""
        if not self.config.table:
            return None
        sql = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"
        got = list(self._rows(sql, [self.dialect.quote(self.config.table)]))
        # -1: never analysed (PostgreSQL 14+); 0 may be that too before 14.
        return int(got[0][0]) if got and got[0][0] is not None and got[0][0] > 0 else None

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        timeout_ms = max(1, int(self.config.timeout_seconds * 1000))
        try:
            conn = psycopg.connect(self.config.dsn or "",
                                   connect_timeout=max(1, int(self.config.timeout_seconds)),
                                   application_name="omniwatch-consistency")
        except psycopg.Error as exc:
            raise SourceError(self.name, "connect", postgres_error(exc, self.config.dsn)) from None
        rows: Iterator[Row] | None = None
        finished = False
        release = _not_watched
        try:
            release = self._watch(lambda: end_backend(self.config.dsn or "", conn))
            # One read-only transaction, never committed: closing the connection ends it.
            conn.read_only = True
            conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            # Checksum joins over thousands of key ranges are misestimated by orders of
            # magnitude: JIT would then spend ~0.5 s compiling, and the per-range hash
            # lists (a few MB in all) would spill to disk under the default work_mem.
            conn.execute("SELECT set_config('jit', 'off', true), "
                         "set_config('work_mem', '128MB', true)")
            if self.layout.salt is not None and any(self.layout.hash_kinds):
                conn.execute("SELECT set_config('omniwatch.hash_salt', %s, true)",
                             [self.layout.salt])
            # Streaming (libpq chunked-rows mode) rather than a named cursor: the server
            # sends continuously instead of waiting for one FETCH per batch, while memory
            # stays bounded by the chunk size and the socket buffers.
            rows = conn.cursor().stream(sql, params, size=self.config.fetch_size)
            while batch := list(islice(rows, self.config.fetch_size)):
                yield batch
            finished = True
        except pg_errors.QueryCanceled as exc:
            raise SourceError(self.name, "timeout", postgres_error(exc, self.config.dsn)) from None
        except psycopg.OperationalError as exc:
            raise SourceError(self.name, "lost", postgres_error(exc, self.config.dsn)) from None
        except psycopg.Error as exc:
            raise SourceError(self.name, "query", postgres_error(exc, self.config.dsn)) from None
        finally:
            release()
            if rows is not None and not finished:
                # Stopped early (or failed): cancel the query, or closing the stream would
                # first read every remaining row.
                with contextlib.suppress(psycopg.Error):
                    conn.cancel_safe(timeout=5)
                with contextlib.suppress(psycopg.Error):
                    close = getattr(rows, "close", None)
                    if close is not None:
                        close()
            conn.close()


def _not_watched() -> None:
    return None


def end_backend(dsn: str, conn: psycopg.Connection[Row]) -> None:
    """End ``conn``'s server backend from another thread (a cancelled check).

    ``pg_terminate_backend`` from a second connection ends the statement running now *and*
    any about to start, and closes the session; an in-band cancel request would miss a
    statement that has not reached the server yet.  If no second connection can be
    opened, the in-band cancel is the fallback.
    """
    pid = conn.info.backend_pid
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True,
                             application_name="omniwatch-cancel") as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    except psycopg.Error:
        conn.cancel_safe(timeout=5)
