"""A writer killed with SIGKILL loses at most the batch since its last flush."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from monitor.store.postgres import PostgresProbeStore
from monitor.store.sql import SqlProbeStore
from monitor.store.sqlite import SqliteProbeStore
from tests.stores import PG_DSN, postgres_available
from tests.support import require

WRITER = textwrap.dedent(
    """
    import sys, time
    from probes.result import ProbeResult
    backend, where, schema = sys.argv[1:4]
    if backend == "sqlite":
        from monitor.store.sqlite import SqliteProbeStore
        store = SqliteProbeStore(where)
    else:
        from monitor.store.postgres import PostgresProbeStore
        store = PostgresProbeStore(where, schema=schema)
    flushed = 0
    t = time.time() - 600
    while True:
        for i in range(10):
            t += 0.01
            store.record("app", "api", ProbeResult(i % 5 != 0, "ok", 0.1, started_at=t), False)
        store.flush()
        flushed += 10
        print(flushed, flush=True)
    """
)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_keeps_everything_flushed(backend: str, tmp_path: Path) -> None:
    schema = f"ow_store_test_{secrets.token_hex(4)}"
    where = str(tmp_path / "crash.db")
    if backend == "postgres":
        require(postgres_available(), "PostgreSQL at 127.0.0.1:5432 is not reachable")
        where = PG_DSN
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, backend, where, schema],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        seen = 0
        for line in child.stdout:
            seen = int(line)
            if seen >= 200:
                break
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read().split()
        child.wait(timeout=10)
        acknowledged = int(rest[-1]) if rest else seen
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    store: SqlProbeStore
    if backend == "sqlite":
        store = SqliteProbeStore(where)
    else:
        store = PostgresProbeStore(where, schema=schema)
    try:
        total = sum(b.total for b in store.series("target", "api", "minute", 0, 2e9))
        good = sum(b.good for b in store.series("target", "api", "minute", 0, 2e9))
        # Every acknowledged flush is there; at most one more committed before the kill.
        assert total in (acknowledged, acknowledged + 10)
        assert good == total * 4 // 5
    finally:
        store._conn.close()
        if backend == "postgres":
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )
