"""Writers for tables with typed columns (text, integer, timestamp) in PostgreSQL,
MariaDB and SQLite: the compound-key and incremental tests need integer key parts and
real timestamp columns, which the shared dataset's all-text writers do not make."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pymysql

Column = tuple[str, str]  # name, and "text", "int" or "ts"
Row = Sequence[Any]

_PG = {"text": "text", "int": "integer", "ts": "timestamptz"}
# No explicit collation: the database's default (utf8mb4_general_ci on MariaDB), as a
# DBA would create the table; keys are ordered by bytes by the source anyway.
_MY = {"text": "VARCHAR(100)", "int": "INT", "ts": "DATETIME(6)"}
_LITE = {"text": "TEXT", "int": "INTEGER", "ts": "TEXT"}


def _naive_utc(v: Any) -> Any:
    # DATETIME has no zone: the engine reads naive timestamps as UTC.
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def pg_table(conn: psycopg.Connection[Any], table: str, columns: Sequence[Column],
             rows: Sequence[Row]) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {_PG[t]}' for n, t in columns)})")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        [list(r) for r in rows])


def my_table(conn: pymysql.Connection[Any], table: str, columns: Sequence[Column],
             rows: Sequence[Row]) -> None:
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {_MY[t]}' for n, t in columns)})"
                    " CHARACTER SET utf8mb4")
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        [[_naive_utc(v) for v in r] for r in rows])


def lite_table(path: Path, table: str, columns: Sequence[Column], rows: Sequence[Row]) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {_LITE[t]}' for n, t in columns)})")
    # Timestamps as ISO text with their zone, as most applications write them into SQLite.
    conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                     [[v.isoformat() if isinstance(v, datetime) else v for v in r]
                      for r in rows])
    conn.commit()
    conn.close()
    return path


def drop_pg(conn: psycopg.Connection[Any], *tables: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")


def drop_my(conn: pymysql.Connection[Any], *tables: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")
