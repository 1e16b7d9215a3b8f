"""``omniwatch run`` survives its history store going away: a real PostgreSQL it cannot
reach (stopped, or down at start) and a SQLite file that cannot be written.

Throughout, ``/metrics`` answers 200 (``samples()`` asserts it), the store health says
what is wrong, and every probe made meanwhile lands in the store once it is back.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.pgserver import PgServer, pg_server
from tests.procs import OmniwatchProcess, http_target_server, wait_for
from tests.support import require

__all__ = ["pg_server"]

CONFIG = """\
store: {store}
defaults: {{interval: 200ms, timeout: 150ms}}
channels:
  app:
    targets:
      - {{name: app-ok, probe: http, url: "http://127.0.0.1:{port}/ok"}}
      - {{name: app-down, probe: http, url: "http://127.0.0.1:{port}/fail"}}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def flush_ok(s: Samples) -> float | None:
    return s.get(key("omniwatch_store_last_flush_success"))


def probes_done(s: Samples) -> float:
    return sum(v for (name, _), v in s.items() if name == "omniwatch_probes_total")


def scrape_until(proc: OmniwatchProcess, pred: Callable[[Samples], bool],
                 timeout: float = 15.0) -> Samples:
    """Scrape until ``pred`` holds for a scrape; return that scrape."""
    found: list[Samples] = []

    def check() -> bool:
        s = proc.samples()
        if pred(s):
            found.append(s)
            return True
        return False

    wait_for(check, timeout=timeout)
    return found[0]


def has_slo(s: Samples) -> bool:
    return any(name == "omniwatch_sli_ratio" for name, _ in s)


@pytest.fixture
def target_port() -> Iterator[int]:
    with http_target_server() as port:
        yield port


@contextlib.contextmanager
def omniwatch(cfg: Path) -> Iterator[OmniwatchProcess]:
    proc = OmniwatchProcess(cfg)
    try:
        yield proc
    finally:
        proc.stop(signal.SIGKILL)


def stored_total(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT COALESCE(SUM(total), 0) FROM target_minute").fetchone()
        assert row is not None
        return int(row[0])


def assert_clean_exit(proc: OmniwatchProcess) -> None:
    assert proc.stop(signal.SIGTERM) == 0
    text = proc.log_path.read_text()
    assert "Traceback" not in text
    assert any(e.get("event") == "monitor_stopped" for e in proc.events())


def test_postgres_outage_is_survived_and_written_after(
    pg_server: PgServer, target_port: int, tmp_path: Path
) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(store=f'{{postgres: "{pg_server.dsn}", flush_interval: 300ms}}',
                                 port=target_port))
    with omniwatch(cfg) as proc:
        wait_for(lambda: flush_ok(s := proc.samples()) == 1 and has_slo(s) and stored_total(
            pg_server.dsn) > 0)
        assert proc.samples()[key("omniwatch_slo_data_stale")] == 0

        pg_server.stop()
        s = scrape_until(proc, lambda s: flush_ok(s) == 0)
        assert s[key("omniwatch_store_last_flush_error", error="connection")] == 1
        assert s[key("omniwatch_slo_data_stale")] == 1
        assert not has_slo(s)  # no number rather than a wrong one
        # Probing goes on, the results wait in memory.
        during = probes_done(s)
        wait_for(lambda: probes_done(s := proc.samples()) >= during + 10
                 and s[key("omniwatch_store_pending_probes")] > 0)
        assert proc.samples()[key("omniwatch_store_flush_failures_total",
                                  error="connection")] >= 1

        pg_server.start()
        probed_in_outage = probes_done(proc.samples())
        wait_for(lambda: flush_ok(s := proc.samples()) == 1 and has_slo(s), timeout=40)
        s = proc.samples()
        assert s[key("omniwatch_slo_data_stale")] == 0
        assert not any(n == "omniwatch_store_last_flush_error" for n, _ in s)
        assert s[key("omniwatch_store_dropped_probes_total")] == 0
        # Everything probed before and during the outage is in the store (by the next
        # flush at the latest: the one that succeeded may have taken its batch just
        # before the last of those probes was recorded).
        wait_for(lambda: stored_total(pg_server.dsn) >= probed_in_outage, timeout=10)
        assert any(e.get("event") == "store_flush_recovered" for e in proc.events())

        # A second outage, and SIGTERM during it: exit 0, nothing raised, what could not
        # be written said in one line; what was written before stays.
        before = stored_total(pg_server.dsn)
        pg_server.stop()
        wait_for(lambda: flush_ok(proc.samples()) == 0)
        assert_clean_exit(proc)
        [unwritten] = [e for e in proc.events() if e.get("event") == "store_unwritten_at_exit"]
        assert int(str(unwritten["probes"])) > 0
    pg_server.start()
    assert stored_total(pg_server.dsn) >= before


def test_postgres_down_at_start_keeps_probing_and_catches_up(
    pg_server: PgServer, target_port: int, tmp_path: Path
) -> None:
    pg_server.stop()
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(store=f'{{postgres: "{pg_server.dsn}", flush_interval: 300ms}}',
                                 port=target_port))
    with omniwatch(cfg) as proc:
        assert any(e.get("event") == "store_unavailable" for e in proc.events())
        wait_for(lambda: flush_ok(s := proc.samples()) == 0 and probes_done(s) >= 10)
        assert proc.samples()[key("omniwatch_slo_data_stale")] == 1
        pg_server.start()
        probed = probes_done(proc.samples())
        wait_for(lambda: flush_ok(s := proc.samples()) == 1 and has_slo(s), timeout=40)
        wait_for(lambda: stored_total(pg_server.dsn) >= probed, timeout=10)  # as above
        assert_clean_exit(proc)
    with psycopg.connect(pg_server.dsn) as conn:
        rows = conn.execute("SELECT target, end_ts FROM incidents ORDER BY target").fetchall()
    assert rows == [("app-down", None)]  # the failing target: one incident, still open


def test_a_malformed_dsn_is_not_retried(target_port: int, tmp_path: Path) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(store='{postgres: "host=127.0.0.1 port 1"}', port=target_port))
    run = subprocess.run([sys.executable, "-m", "monitor", "run", "-c", str(cfg), "--listen",
                          "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    assert "retrying" not in run.stderr
    assert "Traceback" not in run.stderr


def chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


def immutable_works(tmp_path: Path) -> bool:
    """``chattr +i`` makes writes fail even for root, where the filesystem supports it."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    try:
        chattr("+i", probe)
    except (OSError, subprocess.CalledProcessError):
        return False
    try:
        with probe.open("a") as f:
            f.write("y")
    except PermissionError:
        return True
    finally:
        chattr("-i", probe)
    return False


def sqlite_total(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(total), 0) FROM target_minute")
                   .fetchone()[0])


def test_sqlite_unwritable_file_is_survived(target_port: int, tmp_path: Path) -> None:
    require(immutable_works(tmp_path), "chattr +i does not make files unwritable here")
    db = tmp_path / "omniwatch.db"
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(store="{sqlite: omniwatch.db, flush_interval: 300ms}",
                                 port=target_port))
    files = (db, db.with_name("omniwatch.db-wal"))
    with omniwatch(cfg) as proc:
        try:
            wait_for(lambda: flush_ok(proc.samples()) == 1 and sqlite_total(db) > 0)
            # The database file and its write-ahead log become immutable: every write
            # fails (as on a full or read-only disk) while reads still work.
            chattr("+i", *files)
            s = scrape_until(proc, lambda s: flush_ok(s) == 0)
            assert s[key("omniwatch_store_last_flush_error", error="io_error")] == 1
            assert s[key("omniwatch_slo_data_stale")] == 1
            during = probes_done(s)
            wait_for(lambda: probes_done(proc.samples()) >= during + 10)
        finally:
            chattr("-i", *files)
        probed = probes_done(proc.samples())
        wait_for(lambda: flush_ok(s := proc.samples()) == 1
                 and s[key("omniwatch_slo_data_stale")] == 0)
        assert sqlite_total(db) >= probed
        assert_clean_exit(proc)
    assert sqlite_total(db) >= probed


def test_sqlite_unwritable_folder_at_start_is_retried(target_port: int, tmp_path: Path) -> None:
    require(immutable_works(tmp_path), "chattr +i does not make files unwritable here")
    folder = tmp_path / "history"
    folder.mkdir()
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(CONFIG.format(store="{sqlite: history/omniwatch.db, flush_interval: 300ms}",
                                 port=target_port))
    chattr("+i", folder)  # the file cannot even be created
    try:
        with omniwatch(cfg) as proc:
            try:
                assert any(e.get("event") == "store_unavailable" for e in proc.events())
                s = scrape_until(proc, lambda s: probes_done(s) >= 10)
                assert flush_ok(s) == 0
                assert s[key("omniwatch_store_last_flush_error", error="cannot_open")] == 1
            finally:
                chattr("-i", folder)
            probed = probes_done(proc.samples())
            wait_for(lambda: flush_ok(proc.samples()) == 1, timeout=40)
            assert sqlite_total(folder / "omniwatch.db") >= probed
            assert_clean_exit(proc)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            chattr("-i", folder)
