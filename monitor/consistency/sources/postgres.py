"""PostgreSQL source: psycopg 3, read-only transaction, statement timeout, streamed rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice

import psycopg
from psycopg import errors as pg_errors

from monitor.consistency.errors import SourceError
from monitor.consistency.sources.sql import PostgresDialect, Row, SqlSource

class PostgresSource(SqlSource):
    """Customer records in a PostgreSQL table or query (``kind: postgres``)."""

    dialect = PostgresDialect()

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        timeout_ms = max(1, int(self.config.timeout_seconds * 1000))
        try:
            conn = psycopg.connect(self.config.dsn or "",
                                   connect_timeout=max(1, int(self.config.timeout_seconds)),
                                   application_name="omniwatch-consistency")
        except psycopg.Error as exc:
            raise SourceError(self.name, "connect", _first_line(exc)) from None
        try:
            conn.read_only = True
            with conn.transaction():
                conn.execute("SELECT set_config('statement_timeout', %s, true)",
                             [str(timeout_ms)])
                if self.layout.salt is not None and any(self.layout.hash_kinds):
                    conn.execute("SELECT set_config('omniwatch.hash_salt', %s, true)",
                                 [self.layout.salt])
                # Streaming (libpq chunked-rows mode) rather than a named cursor: the
                # server sends continuously instead of waiting for one FETCH per batch,
                # while memory stays bounded by the chunk size and socket buffers.
                with conn.cursor() as cur:
                    rows = cur.stream(sql, params, size=self.config.fetch_size)
                    while batch := list(islice(rows, self.config.fetch_size)):
                        yield batch
        except pg_errors.QueryCanceled as exc:
            raise SourceError(self.name, "timeout", _first_line(exc)) from None
        except psycopg.OperationalError as exc:
            raise SourceError(self.name, "lost", _first_line(exc)) from None
        except psycopg.Error as exc:
            raise SourceError(self.name, "query", _first_line(exc)) from None
        finally:
            conn.close()


def _first_line(exc: BaseException) -> str:
    # Driver messages can quote a failing row's values in DETAIL lines: keep the first line.
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
