"""The progress line of ``omniwatch consistency check`` (issue 11 §4): its text (pure),
its pace, and that a real check shows it on a terminal only, never when piped or with
``--json``."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from monitor.cli.consistency_progress import (
    CLEAR,
    REDRAW_SECONDS,
    ProgressLine,
    clock_text,
    progress_text,
)
from monitor.consistency.progress import FETCHING, FINISHED, HASHING, STREAMING, CheckProgress

ROWS = 40_000


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 7.9, 75, 3723, -1)] == [
        "0:00", "0:07", "1:15", "1:02:03", "0:00"]


def test_streaming_line_has_rows_elapsed_and_an_estimate() -> None:
    p = CheckProgress(("app", "website"), STREAMING, 250_000, 1_000_000)
    # A quarter done in 10 s of this phase: 30 s left at that pace.
    assert progress_text("customers", p, 12.0, 10.0) == (
        "customers/app,website: streaming 250,000 of ~1,000,000 rows, 0:12 elapsed, "
        "~0:30 left")


def test_hashing_line_counts_ranges_left() -> None:
    p = CheckProgress(("app",), HASHING, 2_000_000, 10_000_000, 820, 4096)
    assert progress_text("accounts", p, 20.0, 16.0) == (
        "accounts/app: hashing 2,000,000 of 10,000,000 rows, 3,276 of 4,096 ranges left, "
        "0:20 elapsed, ~1:04 left")


def test_estimates_from_ranges_without_a_row_total_and_none_without_either() -> None:
    by_ranges = CheckProgress(("app",), HASHING, 0, None, 16, 64)
    assert progress_text("c", by_ranges, 4.0, 4.0).endswith(
        "hashing 0 rows, 48 of 64 ranges left, 0:04 elapsed, ~0:12 left")
    fetched = CheckProgress(("app",), FETCHING, 8000, None)
    assert progress_text("c", fetched, 61.0, 3.0) == (
        "c/app: fetching 8,000 differing keys, 1:01 elapsed")
    # Past its estimate (the catalog was stale), a phase promises nothing.
    over = CheckProgress(("app",), STREAMING, 1200, 1000)
    assert progress_text("c", over, 2.0, 2.0) == (
        "c/app: streaming 1,200 of ~1,000 rows, 0:02 elapsed")
    assert progress_text("c", None, 3.0, 3.0) == "c: checking… 0:03 elapsed"


def test_estimate_counts_down_between_reports_and_never_grows() -> None:
    # 2% hashed after 1 s of this phase: 49 s left at that pace.  Then one statement
    # sums the rest, with no report for seconds: the estimate must not grow with the
    # clock (extrapolating 2% per elapsed second would say ~2:27 left after 3 s more).
    p = CheckProgress(("app",), HASHING, 20_000, 1_000_000, 64, 4096)
    texts = [progress_text("c", p, 1.0 + wait, 1.0 + wait, since_report=wait)
             for wait in (0.0, 3.0, 49.5, 60.0)]
    assert [t.rsplit("elapsed", 1)[1] for t in texts] == [
        ", ~0:49 left", ", ~0:46 left", "", ""]


def test_drawn_estimate_uses_the_pace_at_the_latest_report() -> None:
    out, clock = io.StringIO(), FakeClock()
    with ProgressLine(out, True, clock) as line:
        sink = line.sink("c")
        assert sink is not None
        sink(CheckProgress(("app",), HASHING, 0, 1000))
        clock.now += 1.0
        sink(CheckProgress(("app",), HASHING, 100, 1000))  # 10% in 1 s: 9 s left
        clock.now += 4.0
        with line._lock:  # what the ticker draws 4 s later, with no report meanwhile
            line._draw(clock.now)
    drawn = [t for t in out.getvalue().split(CLEAR) if t]
    assert drawn[-2:] == [
        "c/app: hashing 100 of 1,000 rows, 0:01 elapsed, ~0:09 left",
        "c/app: hashing 100 of 1,000 rows, 0:05 elapsed, ~0:05 left"]


def test_line_is_cut_to_the_terminal_width() -> None:
    p = CheckProgress(("app",), STREAMING, 5, 10)
    assert progress_text("customers", p, 1.0, 1.0, width=20) == "customers/app: stre"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reports_are_drawn_at_most_four_times_a_second_and_cleared() -> None:
    out, clock = io.StringIO(), FakeClock()
    with ProgressLine(out, True, clock) as line:
        sink = line.sink("customers")
        assert sink is not None
        sink(CheckProgress(("app",), STREAMING, 0, 100))  # the first: drawn at once
        sink(CheckProgress(("app",), STREAMING, 10, 100))  # same instant: not drawn
        clock.now += REDRAW_SECONDS
        sink(CheckProgress(("app",), STREAMING, 50, 100))
        clock.now += 0.1
        sink(CheckProgress(("app",), STREAMING, 60, 100))  # too soon: not drawn
        sink(CheckProgress(("app",), FETCHING, 0, 3))  # a new phase: drawn at once
        sink(CheckProgress(("app",), FINISHED, 0))  # cleared before the check logs
        written = out.getvalue()
    assert written.split(CLEAR)[1:] == [
        "customers/app: streaming 0 of ~100 rows, 0:00 elapsed",
        "customers/app: streaming 50 of ~100 rows, 0:00 elapsed, ~0:00 left",
        "customers/app: fetching 0 of 3 differing keys, 0:00 elapsed",
        ""]
    assert out.getvalue() == written + CLEAR  # and once more at the end


def test_disabled_line_asks_for_no_reports_and_writes_nothing() -> None:
    out = io.StringIO()
    with ProgressLine(out, False) as line:
        assert line.sink("customers") is None
    assert out.getvalue() == ""


# -- a real check, its stderr a terminal or a pipe -----------------------------------

def _config(tmp_path: Path) -> Path:
    for name, changed in (("branch.db", -1), ("app.db", 7)):
        with sqlite3.connect(tmp_path / name) as db:
            db.execute("CREATE TABLE customers (customer_id TEXT PRIMARY KEY, name TEXT, "
                       "phone TEXT, id_number TEXT, risk_level TEXT)")
            db.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?)", [
                (f"C{i:06d}", "Li Si" if i == changed else "Zhang San", "13800138000",
                 "11010519491231002X", "R3") for i in range(ROWS)])
        db.close()
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("""
store: {sqlite: history.db}
channels: {app: {targets: []}}
consistency:
  reference: branch
  key: customer_id
  fields: [name, phone, id_number, risk_level]
  sources:
    branch: {kind: sqlite, path: branch.db, table: customers}
    app: {kind: sqlite, path: app.db, table: customers}
""")
    return cfg


def _on_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``python -m monitor ARGS`` with stderr on a pseudo-terminal (200 columns):
    the exit code, stdout (a pipe) and everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120  # a hung check fails the test, never hangs it
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end of the terminal
                break
            if not chunk:
                break
            seen += chunk
        stdout, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout.decode(), seen.decode()


def test_check_on_a_terminal_shows_the_line_and_clears_it(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    code, stdout, terminal = _on_terminal(["consistency", "check", "-c", str(cfg)], tmp_path)
    assert code == 0  # 1 of 40,000 differs: 99.9975%
    # The first report is drawn at once: the exact row count SQLite gave.
    assert f"{CLEAR}customers/app: streaming 0 of ~{ROWS:,} rows, 0:00 elapsed" in terminal
    # Between the clears: progress lines, and the check's own log line once cleared.
    drawn = [t for t in terminal.split(CLEAR)[1:] if t and "consistency_checked" not in t]
    assert drawn
    assert all(t.startswith("customers/app: streaming ") for t in drawn)
    assert terminal.endswith(CLEAR)
    assert "\r" not in stdout
    assert "app      full  99.997%  99%        39999  1 " in stdout


def test_check_piped_or_with_json_shows_no_progress(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    piped = subprocess.run([sys.executable, "-m", "monitor", "consistency", "check", "-c",
                            str(cfg)], capture_output=True, text=True, timeout=120,
                           cwd=tmp_path)
    assert piped.returncode == 0
    assert "streaming" not in piped.stderr
    assert "\r" not in piped.stderr
    code, stdout, terminal = _on_terminal(
        ["consistency", "check", "-c", str(cfg), "--json"], tmp_path)
    assert code == 0
    assert '"match": 39999' in stdout
    assert "streaming" not in terminal
    assert CLEAR not in terminal
