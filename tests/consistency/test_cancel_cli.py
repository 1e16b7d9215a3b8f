"""Ctrl-C on ``omniwatch consistency check`` ends the check's database statements: the
checksum mode waits for its worker threads, so an interrupt alone took effect only when
the database answered (here: never, while a lock is held)."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import yaml

from tests.consistency.conftest import PG_DSN
from tests.procs import wait_for


def _waiting_on_lock(pg: psycopg.Connection[Any], table: str) -> bool:
    row = pg.execute("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                     "AND wait_event_type = 'Lock' AND query LIKE %s",
                     [f"%{table}%"]).fetchone()
    return bool(row and row[0])


def test_ctrl_c_ends_a_checksum_check_blocked_in_a_statement(
        pg: psycopg.Connection[Any], tmp_path: Path) -> None:
    ref, chan = (f"ow_int_{uuid.uuid4().hex[:10]}_{s}" for s in ("ref", "app"))
    for table in (ref, chan):
        pg.execute(f"CREATE TABLE {table} (customer_id text PRIMARY KEY, name text)")
        pg.execute(f"INSERT INTO {table} SELECT 'C' || g, 'n' || g "
                   "FROM generate_series(1, 500) g")
    cfg = tmp_path / "omniwatch.yaml"
    sources = {name: {"kind": "postgres", "dsn": PG_DSN, "table": table, "timeout": "600s"}
               for name, table in (("branch", ref), ("app", chan))}
    cfg.write_text(yaml.safe_dump({"channels": {"app": {"targets": []}}, "consistency": {
        "reference": "branch", "key": "customer_id", "fields": ["name"],
        "sources": sources}}))
    blocker = psycopg.connect(PG_DSN, connect_timeout=3)
    proc: subprocess.Popen[str] | None = None
    try:
        # The channel's rows are locked: the check's summing statement waits for them.
        blocker.execute(f"LOCK TABLE {chan} IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "consistency", "check", "-c", str(cfg),
             "--mode", "checksum", "--no-history"], cwd=tmp_path, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: _waiting_on_lock(pg, chan), timeout=60)
        proc.send_signal(signal.SIGINT)
        # Still locked: only ending the statement lets the process go.
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert not _waiting_on_lock(pg, chan)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        blocker.close()
        for table in (ref, chan):
            pg.execute(f"DROP TABLE IF EXISTS {table}")
