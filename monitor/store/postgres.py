"""The shared backend: PostgreSQL through psycopg 3, for replicas that share state."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from monitor.store.buckets import VALUE_COLUMNS
from monitor.store.sql import SqlProbeStore


class PostgresProbeStore(SqlProbeStore):
    """A :class:`SqlProbeStore` in PostgreSQL.

    ``schema`` (created if missing) keeps omniwatch's tables apart from anything else in
    the database; the default is the connection's ``search_path``.  Several replicas may
    write to one database: every write is an additive upsert, so their counts add up.
    """

    dialect = "postgres"
    placeholder = "%s"

    def __init__(self, dsn: str, schema: str | None = None, **options: Any) -> None:
        conn = psycopg.connect(dsn, autocommit=False)
        if schema is not None:
            try:
                with conn.cursor() as cur:
                    name = sql.Identifier(schema)
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
                    cur.execute(sql.SQL("SET search_path TO {}").format(name))
                conn.commit()
            except BaseException:
                conn.close()
                raise
        self.schema = schema
        super().__init__(conn, **options)

    def _upsert_buckets(
        self, cur: Any, table: str, key: str, updates: str, rows: list[tuple[Any, ...]]
    ) -> None:
        # COPY into a per-session staging table, then one set-based upsert: several times
        # faster than a row-by-row executemany once a flush holds thousands of buckets.
        stage = f"stage_{table}"
        cols = ", ".join((key, "start", *VALUE_COLUMNS))
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
