"""Cancelling a check ends its statements and closes its connections (real PostgreSQL and
MariaDB; a slow source query stands in for a huge table)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pymysql

from monitor.config.consistency import build_consistency
from monitor.consistency.cancel import CancelScope
from monitor.consistency.model import ConsistencyReport
from monitor.consistency.run import run_check
from tests.consistency.conftest import MYSQL_DSN, PG_DSN
from tests.procs import wait_for


def pg_backends(pg: psycopg.Connection[Any], marker: str) -> int:
    """Backends (other than ``pg``'s own) running a statement that names ``marker``."""
    row = pg.execute("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                     "AND query LIKE %s", [f"%{marker}%"]).fetchone()
    return int(row[0]) if row else 0


def my_threads(my: pymysql.Connection[Any], marker: str) -> int:
    """MariaDB connections (other than ``my``) running a statement that names ``marker``."""
    with my.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                    "WHERE ID <> CONNECTION_ID() AND INFO LIKE %s", (f"%{marker}%",))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def slow_config(kind: str, marker: str, tmp_path: Path) -> Any:
    web = tmp_path / "web.jsonl"
    web.write_text('{"customer_id": "C1", "name": "x"}\n')
    if kind == "postgres":
        ref = {"kind": "postgres", "dsn": PG_DSN, "timeout": "120s",
               "query": f"SELECT customer_id, name FROM ow_cancel_ref, pg_sleep(300) "
                        f"AS {marker}"}
    else:
        ref = {"kind": "mysql", "dsn": MYSQL_DSN, "timeout": "120s",
               "query": f"SELECT customer_id, name FROM ow_cancel_ref JOIN "
                        f"(SELECT SLEEP(300) AS s) AS {marker}"}
    return build_consistency({
        "objective": "99%", "reference": "ref", "key": "customer_id", "fields": ["name"],
        "sources": {"ref": ref, "web": {"kind": "jsonl", "path": str(web)}}})


def _run_in_thread(fn: Callable[[], list[ConsistencyReport]]
                   ) -> tuple[threading.Thread, list[list[ConsistencyReport]]]:
    out: list[list[ConsistencyReport]] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_cancel_ends_a_running_postgresql_statement(pg: psycopg.Connection[Any],
                                                    tmp_path: Path) -> None:
    pg.execute("DROP TABLE IF EXISTS ow_cancel_ref")
    pg.execute("CREATE TABLE ow_cancel_ref (customer_id text, name text)")
    pg.execute("INSERT INTO ow_cancel_ref VALUES ('C1', 'x')")
    marker = f"ow_mk_{uuid.uuid4().hex[:12]}"
    scope = CancelScope()
    config = slow_config("postgres", marker, tmp_path)
    thread, out = _run_in_thread(lambda: run_check(config, cancel=scope))
    wait_for(lambda: pg_backends(pg, marker) == 1, timeout=20)
    scope.cancel()
    thread.join(60)
    assert not thread.is_alive()
    assert pg_backends(pg, marker) == 0
    (report,) = out[0]
    assert report.error is not None
    assert report.ratio is None


def test_cancel_ends_a_running_mariadb_statement(my: pymysql.Connection[Any],
                                                 tmp_path: Path) -> None:
    with my.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS ow_cancel_ref")
        cur.execute("CREATE TABLE ow_cancel_ref (customer_id VARCHAR(20), name TEXT)")
        cur.execute("INSERT INTO ow_cancel_ref VALUES ('C1', 'x')")
    marker = f"ow_mk_{uuid.uuid4().hex[:12]}"
    scope = CancelScope()
    config = slow_config("mysql", marker, tmp_path)
    thread, out = _run_in_thread(lambda: run_check(config, cancel=scope))
    wait_for(lambda: my_threads(my, marker) == 1, timeout=20)
    scope.cancel()
    thread.join(60)
    assert not thread.is_alive()
    assert my_threads(my, marker) == 0
    (report,) = out[0]
    assert report.error is not None


def test_a_cancelled_scope_starts_no_statement(pg: psycopg.Connection[Any], tmp_path: Path) -> None:
    pg.execute("DROP TABLE IF EXISTS ow_cancel_ref")
    pg.execute("CREATE TABLE ow_cancel_ref (customer_id text, name text)")
    marker = f"ow_mk_{uuid.uuid4().hex[:12]}"
    scope = CancelScope()
    scope.cancel()
    (report,) = run_check(slow_config("postgres", marker, tmp_path), cancel=scope)
    assert report.error is not None
    assert "cancelled" in report.error
