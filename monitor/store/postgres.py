"""The shared backend: PostgreSQL through psycopg 3, for replicas that share state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import psycopg
import psycopg.conninfo
from psycopg import sql

from monitor.store.buckets import VALUE_COLUMNS
from monitor.store.sql import SqlProbeStore

CONNECT_TIMEOUT_SECONDS: Final = 5


class PostgresProbeStore(SqlProbeStore):
    """A :class:`SqlProbeStore` in PostgreSQL.

    ``schema`` (created if missing) keeps omniwatch's tables apart from anything else in
    the database; the default is the connection's ``search_path``.  Several replicas may
    write to one database: every write is an additive upsert, so their counts add up.
    """

    dialect = "postgres"
    placeholder = "%s"
    driver_errors = (psycopg.Error,)

    def __init__(self, dsn: str, schema: str | None = None, **options: Any) -> None:
        # Parsed now, even for a lazy store: a malformed DSN is a config error to report
        # once, not an outage to retry (and its parse error may quote part of a secret).
        self._timeout = "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(dsn)
        self._dsn = dsn
        self.schema = schema
        super().__init__(self._connect, **options)

    def _connect(self) -> psycopg.Connection[Any]:
        # Without a connect_timeout, reconnecting to a host that drops packets would hang
        # a flush (and the scrapes waiting for it) for the kernel's TCP timeout.
        extra: dict[str, Any] = {}
        if self._timeout:
            extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        conn = psycopg.connect(self._dsn, autocommit=False, **extra)
        if self.schema is not None:
            try:
                with conn.cursor() as cur:
                    name = sql.Identifier(self.schema)
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                    cur.execute(sql.SQL("SET search_path TO {}").format(name))
                conn.commit()
            except BaseException:
                conn.close()
                raise
        return conn

    def _classify(self, exc: BaseException) -> str:
        state = getattr(exc, "sqlstate", None) or ""
        if state == "25006":
            return "read_only"
        if state == "53100":
            return "disk_full"
        if state.startswith(("08", "57P")) or (
            isinstance(exc, psycopg.OperationalError) and not state
        ):
            return "connection"
        return "database"

    def _is_broken(self, conn: Any, exc: BaseException) -> bool:
        return bool(conn.broken or conn.closed)

    def _upsert_buckets(
        self, cur: Any, table: str, key: str, updates: str, rows: list[tuple[Any, ...]],
        columns: Sequence[str] = VALUE_COLUMNS,
    ) -> None:
        # COPY into a per-session staging table, then one set-based upsert: several times
        # faster than a row-by-row executemany once a flush holds thousands of buckets.
        stage = f"stage_{table}"
        cols = ", ".join((key, "start", *columns))
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({key}, start) DO UPDATE SET {updates}"
        )
