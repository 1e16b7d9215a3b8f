"""The ``make_store`` fixture: a history store on SQLite and on the real PostgreSQL.

Registered for the whole suite by ``tests/conftest.py`` (the store and SLO tests use it).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from monitor.store.postgres import PostgresProbeStore
from monitor.store.sql import SqlProbeStore
from monitor.store.sqlite import SqliteProbeStore
from tests.support import require

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"

StoreFactory = Callable[..., SqlProbeStore]


def postgres_available() -> bool:
    try:
        psycopg.connect(PG_DSN).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Open (and re-open) a store on one backend; everything is dropped afterwards."""
    opened: list[SqlProbeStore] = []
    schema = f"ow_store_test_{secrets.token_hex(4)}"
    if request.param == "postgres":
        require(postgres_available(), "PostgreSQL at 127.0.0.1:5432 is not reachable")

    def factory(**options: Any) -> SqlProbeStore:
        store: SqlProbeStore
        if request.param == "sqlite":
            store = SqliteProbeStore(str(tmp_path / "omniwatch.db"), **options)
        else:
            store = PostgresProbeStore(PG_DSN, schema=schema, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        with contextlib.suppress(Exception):
            store._conn.close()
    if request.param == "postgres":
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
