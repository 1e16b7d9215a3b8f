"""Reloads that change ``consistency:`` in a real ``omniwatch run``: the check in progress
is cancelled (its database statement ended), never two run at once, and only finished
checks reach the history."""

from __future__ import annotations

import signal
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.consistency.conftest import MYSQL_DSN, PG_DSN
from tests.consistency.test_cancel import my_threads, pg_backends
from tests.procs import OmniwatchProcess, wait_for

RELOADS = 4


def _source(kind: str, marker: str, slow: bool) -> str:
    if kind == "postgres":
        sleep = ", pg_sleep(300)" if slow else ""
        return (f'{{kind: postgres, dsn: "{PG_DSN}", timeout: 120s, query: "SELECT '
                f'customer_id, name FROM ow_cancel_ref{sleep} AS {marker}"}}')
    sleep = " JOIN (SELECT SLEEP(300) AS s) AS z" if slow else ""
    return (f'{{kind: mysql, dsn: "{MYSQL_DSN}", timeout: 120s, query: "SELECT '
            f'customer_id, name FROM ow_cancel_ref AS {marker}{sleep}"}}')


def _config(tmp_path: Path, kind: str, marker: str, version: int, slow: bool) -> str:
    return f"""\
store: {{sqlite: {tmp_path / 'omniwatch.db'}}}
channels:
  app:
    targets:
      - {{name: idle, probe: tcp, host: 127.0.0.1, port: 1, interval: 1h}}
consistency:
  objective: 99%
  reference: ref
  key: customer_id
  fields: [name]
  grace: {version}m
  schedule: {{interval: 1h}}
  sources:
    ref: {_source(kind, marker, slow)}
    web: {{kind: jsonl, path: {tmp_path / 'web.jsonl'}}}
"""


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_reloads_cancel_the_running_check(kind: str, tmp_path: Path,
                                          request: pytest.FixtureRequest) -> None:
    marker = f"ow_mk_{uuid.uuid4().hex[:12]}"
    db: Any = request.getfixturevalue("pg" if kind == "postgres" else "my")
    if kind == "postgres":
        db.execute("DROP TABLE IF EXISTS ow_cancel_ref")
        db.execute("CREATE TABLE ow_cancel_ref (customer_id text, name text)")
        db.execute("INSERT INTO ow_cancel_ref VALUES ('C1', 'x')")
    else:
        with db.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS ow_cancel_ref")
            cur.execute("CREATE TABLE ow_cancel_ref (customer_id VARCHAR(20), name TEXT)")
            cur.execute("INSERT INTO ow_cancel_ref VALUES ('C1', 'x')")

    def running() -> int:
        return pg_backends(db, marker) if kind == "postgres" else my_threads(db, marker)

    most = 0

    def running_is(n: int) -> bool:
        nonlocal most
        now = running()
        most = max(most, now)
        return now == n

    def events(name: str) -> int:
        return sum(1 for ev in proc.events() if ev.get("event") == name)

    (tmp_path / "web.jsonl").write_text('{"customer_id": "C1", "name": "x"}\n')
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(_config(tmp_path, kind, marker, 0, slow=True))
    proc = OmniwatchProcess(cfg)
    try:
        wait_for(lambda: running_is(1), timeout=30)
        for k in range(1, RELOADS + 1):
            cfg.write_text(_config(tmp_path, kind, marker, k, slow=True))
            proc.proc.send_signal(signal.SIGHUP)
            # The old check ends (cancelled, not left to time out) and the new one starts.
            wait_for(lambda k=k: events("consistency_check_cancelled") == k, timeout=30)
            wait_for(lambda: running_is(1), timeout=30)
        assert most == 1
        # The last reload replaces the slow query: its statement is ended at once and
        # the fast check runs to completion.
        cfg.write_text(_config(tmp_path, kind, marker, RELOADS + 1, slow=False))
        proc.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: events("consistency_checked") == 1, timeout=30)
        assert running() == 0
        assert events("consistency_check_cancelled") == RELOADS + 1
        assert events("consistency_check_failed") == 0
        with sqlite3.connect(tmp_path / "omniwatch.db") as history:
            rows = history.execute(
                "SELECT channel, success FROM consistency_runs").fetchall()
        assert rows == [("web", 1)]
    finally:
        proc.stop(signal.SIGKILL)


def test_the_fixtures_are_real(pg: psycopg.Connection[Any], my: pymysql.Connection[Any]
                               ) -> None:
    # The helpers above count only statements naming the marker, not their own.
    assert pg_backends(pg, "ow_mk_nothing_runs_this") == 0
    assert my_threads(my, "ow_mk_nothing_runs_this") == 0
