"""Fixtures: the local PostgreSQL and MariaDB (skip, or fail under CI, when absent), and
writers that put the shared dataset into every kind of source."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.support import require

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
MYSQL_DSN = "mysql://root@127.0.0.1:3306/test"


@pytest.fixture
def pg() -> Iterator[psycopg.Connection[Any]]:
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 is not available: {exc}")
        raise
    with conn:
        yield conn


@pytest.fixture
def my() -> Iterator[pymysql.Connection[Any]]:
    try:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test",
                               charset="utf8mb4", autocommit=True, connect_timeout=3)
    except pymysql.Error as exc:
        require(False, f"MariaDB at 127.0.0.1:3306 is not available: {exc}")
        raise
    try:
        yield conn
    finally:
        conn.close()


def _cells(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    return [[r[c] for c in columns] for r in rows]


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Path:
    with path.open("w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in _cells(rows, columns):
            w.writerow(["" if v is None else v for v in r])
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", errors="surrogateescape") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def write_sqlite(path: Path, table: str, rows: Sequence[dict[str, Any]],
                 columns: Sequence[str]) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c} TEXT' for c in columns)})")
    for r in _cells(rows, columns):
        # Broken text goes in as bytes: SQLite keeps them, as a legacy writer would.
        conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})",
                     [v.encode("utf-8", "surrogateescape") if isinstance(v, str)
                      and not v.isascii() and "\udcff" in v else v for v in r])
    conn.commit()
    conn.close()
    return path


def write_pg(conn: psycopg.Connection[Any], table: str, rows: Sequence[dict[str, Any]],
             columns: Sequence[str], primary_key: bool = False) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    cols = [f"{c} timestamptz" if c == "updated_at" else f"{c} text" for c in columns]
    if primary_key:
        cols[0] += " PRIMARY KEY"
    conn.execute(f"CREATE TABLE {table} ({', '.join(cols)})")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        _cells(rows, columns))


def write_mysql(conn: pymysql.Connection[Any], table: str, rows: Sequence[dict[str, Any]],
                columns: Sequence[str]) -> None:
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cols = [f"{c} DATETIME" if c == "updated_at" else f"{c} VARCHAR(100)" for c in columns]
        cur.execute(f"CREATE TABLE {table} ({', '.join(cols)}) CHARACTER SET utf8mb4")
        cells = _cells(rows, columns)
        for r in cells:
            for i, c in enumerate(columns):
                if c == "updated_at" and r[i]:
                    r[i] = r[i].replace("T", " ").replace("+00:00", "")
        cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(columns))})",
                        cells)
