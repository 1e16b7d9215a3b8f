"""Consistency engine benchmark, runnable alone: ``.venv/bin/python bench/consistency.py``.

1. ``full`` mode: 1,000,000 customers in a PostgreSQL reference, three channels in
   PostgreSQL, MariaDB and SQLite, each with 0.5% injected differences (plus as many
   rows that differ only in formatting, which must count as matches).  Target: under
   15 s for all three channels in one run, peak RSS under 300 MB.
2. ``checksum`` mode on a PostgreSQL → MariaDB pair with text keys (``C0000001``…), side
   by side with reladiff from PyPI (``--bisection-threshold 65536``) at 0%, 0.1% and 1%
   differences.  reladiff 0.6.0 refuses text keys on MySQL, so the peer runs with that
   check patched out (see ``PEER_PATCH``); omniwatch handles text keys natively.
   ``--collation bytes`` (default) keys both tables by bytes (PostgreSQL ``"C"``, MariaDB
   ``ascii_bin``); ``--collation default`` uses separate tables as a DBA creates them
   (PostgreSQL in the cluster's default collation, MariaDB ``utf8mb4_general_ci``),
   with the differences spread at random.

3. ``--full-memory``: full mode over the checksum pair (reference and its 0.1% channel),
   ``workers: 1`` and ``workers: 2``, each check in a fresh process: seconds and peak RSS
   (``ru_maxrss`` of the check's process and of its largest worker), to show that the
   streaming merge keeps constant memory from 10^6 to 10^7 rows.

The databases are the local ones (PostgreSQL 127.0.0.1:5432 ``test``, MariaDB
127.0.0.1:3306 ``test``); tables are prefixed ``ow_cons_bench_``, named by their row
count (and the channel's share of differences), and kept between runs: a table is
reused when it has the right row count and carries the fingerprint of the data it was
built with (a table comment: the generators' code, the row count, the differences), so
``--rows 10000000`` builds its tables once (about 4 minutes per pair here) and later
runs start at once.  ``--rebuild`` recreates them; ``--drop`` removes every benchmark
table.  10,000,000 rows are not part of CI: run them by hand.  Results go to stdout and,
with ``--out``, to a Markdown file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pymysql

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MY_URL = "mysql://root@127.0.0.1:3306/test"
SQLITE_PATH = Path(tempfile.gettempdir()) / "ow_cons_bench.db"
COLUMNS = ("customer_id", "name", "phone", "id_number", "risk_level")
SURNAMES = "张王李赵刘陈杨黄周吴"
GIVEN = "伟芳娜敏静强磊洋艳勇"
NOW = datetime(2024, 6, 1, tzinfo=UTC)

# reladiff 0.6.0 (through sqeleton) marks MySQL as not supporting alphanumeric keys and
# refuses to diff on a text key; the peer runs with that one flag flipped, nothing else.
PEER_PATCH = "bench: allow text keys on MySQL for reladiff"

# Checksum pairs by key collation: (table prefix, PostgreSQL key column, MariaDB key
# column).  The byte-collation tables are as issue 4 built them.
CHECKSUM_TABLES = {
    "bytes": ("ow_cons_bench_cs", 'text COLLATE "C"',
              "VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin"),
    "default": ("ow_cons_bench_dc", "text",
                "VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
}
PG_KEY = CHECKSUM_TABLES["bytes"][1]
MY_KEY = CHECKSUM_TABLES["bytes"][2]
MEMORY_RATIO = 0.001  # the channel full mode is measured against (--full-memory)


def customer(i: int) -> tuple[str, str, str, str, str]:
    """The reference record ``i``: deterministic, realistic shapes (Chinese names...)."""
    return (
        f"C{i:07d}",
        SURNAMES[i % 10] + GIVEN[(i // 10) % 10] + GIVEN[(i // 100) % 10],
        f"1{3 + i % 7}{(i * 7919) % 10**9:09d}",
        f"110105{1950 + i % 50}{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}"
        + "0123456789X"[i % 11],
        f"R{i % 5 + 1}",
    )


def channel_rows(n: int, offset: int, every: int = 600) -> Iterator[tuple[str, ...]]:
    """Reference rows with 3 in ``every`` changed (name, risk level, deleted): 0.5%;
    and 1 in ``every`` only reformatted (+86 phone, 'R3' → '3'), which must match."""
    for i in range(1, n + 1):
        row = customer(i)
        k = (i - offset) % every
        if k == 0:
            row = (row[0], row[1] + "X", *row[2:])
        elif k == 1:
            row = (*row[:4], f"R{i % 5 + 2}" if i % 5 < 4 else "R1")
        elif k == 2:
            continue
        elif k == 3:
            row = (row[0], row[1], "+86 " + row[2], row[3], row[4][1:])
        yield row


def diffs_rows(n: int, ratio: float, at_random: bool = False) -> Iterator[tuple[str, ...]]:
    """Reference rows with ``ratio`` of them changed in name (checksum benchmark): every
    ``1/ratio``-th row, or as many rows spread at random (fixed seed) as issue 11 asks."""
    every = round(1 / ratio) if ratio else 0
    changed = (set(random.Random(11).sample(range(1, n + 1), n // every))
               if at_random and every else set())
    for i in range(1, n + 1):
        row = customer(i)
        if (i in changed) if at_random else (every and i % every == 7 % every):
            row = (row[0], row[1] + "X", *row[2:])
        yield row


# -- building once, reusing after ----------------------------------------------------

def rows_label(n: int) -> str:
    """``1m``, ``10m``, ``250k`` or the count: tables of several sizes live side by side."""
    for unit, size in (("m", 1_000_000), ("k", 1000)):
        if n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def ratio_label(ratio: float) -> str:
    return f"{ratio * 100:g}".replace(".", "p")  # 0.1% -> 0p1


def checksum_tables(collation: str, n: int, ratio: float) -> tuple[str, str]:
    """The reference and the channel table of a checksum pair."""
    prefix = CHECKSUM_TABLES[collation][0]
    return f"{prefix}_ref_{rows_label(n)}", f"{prefix}_ch_{rows_label(n)}_{ratio_label(ratio)}"


def fingerprint(generator: Callable[..., Any], *params: object) -> str:
    """What a table was built from: the generators' code and their parameters.  A change
    to either (another seed, a fixed bug) makes every table built before it stale."""
    code = "".join(inspect.getsource(f) for f in (customer, generator))
    return hashlib.sha256(f"{code}{params!r}".encode()).hexdigest()[:16]


def pg_state(table: str) -> tuple[int, str | None]:
    """``(rows, fingerprint comment)`` of a PostgreSQL table; ``(-1, None)`` if absent."""
    with psycopg.connect(PG_DSN) as conn:
        try:
            (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone() or (-1,)
        except psycopg.errors.UndefinedTable:
            return -1, None
        row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                           [table]).fetchone()
    return int(n), row[0] if row else None


def my_state(table: str) -> tuple[int, str | None]:
    """``(rows, fingerprint comment)`` of a MariaDB table; ``(-1, None)`` if absent."""
    conn = pymysql.connect(host="127.0.0.1", user="root", database="test")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_COMMENT FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
            got = cur.fetchone()
            if got is None:
                return -1, None
            cur.execute(f"SELECT count(*) FROM {table}")
            (n,) = cur.fetchone() or (-1,)
    finally:
        conn.close()
    return int(n), str(got[0] or "") or None


def sqlite_state(path: Path) -> tuple[int, str | None]:
    if not path.exists():
        return -1, None
    conn = sqlite3.connect(path)
    try:
        (n,) = conn.execute("SELECT count(*) FROM customer").fetchone()
        (fp,) = conn.execute("SELECT fingerprint FROM ow_bench_meta").fetchone()
    except sqlite3.Error:
        return -1, None
    finally:
        conn.close()
    return int(n), str(fp)


def ensure(name: str, state: Callable[[], tuple[int, str | None]], n: int, fp: str,
           load: Callable[[], None], rebuild: bool) -> bool:
    """Build ``name`` unless it already holds ``n`` rows made from ``fp``; True if built.
    The fingerprint is written last, so a build that was interrupted is never reused."""
    if not rebuild:
        rows, have = state()
        if rows == n and have == fp:
            print(f"# reusing {name} ({n:,} rows, {fp})", file=sys.stderr)
            return False
    t = time.monotonic()
    load()
    print(f"# built {name} in {time.monotonic() - t:.1f}s", file=sys.stderr)
    return True


# -- loading ----------------------------------------------------------------------------

def load_pg(table: str, rows: Iterator[tuple[str, ...]], key: str = PG_KEY,
            fp: str = "") -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (customer_id {key} PRIMARY KEY, "
                     "name text, phone text, id_number text, risk_level text)")
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute(f"COMMENT ON TABLE {table} IS {psycopg.sql.quote(fp)}")


def load_mysql(table: str, rows: Iterator[tuple[str, ...]], key: str = MY_KEY,
               fp: str = "") -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False, newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE,
                       escapechar="\\")
        w.writerows(rows)
        path = f.name
    conn = pymysql.connect(host="127.0.0.1", user="root", database="test", charset="utf8mb4",
                           local_infile=True, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} (customer_id {key} PRIMARY KEY, "
                        "name VARCHAR(64), phone VARCHAR(32), "
                        "id_number VARCHAR(32), risk_level VARCHAR(8)) CHARACTER SET utf8mb4")
            cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} CHARACTER SET utf8mb4 "
                        "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'", (path,))
            cur.execute(f"ANALYZE TABLE {table}")
            cur.execute(f"ALTER TABLE {table} COMMENT = %s", (fp,))
    finally:
        conn.close()
        os.unlink(path)


def load_sqlite(rows: Iterator[tuple[str, ...]], fp: str = "") -> None:
    SQLITE_PATH.unlink(missing_ok=True)
    conn = sqlite3.connect(SQLITE_PATH)
    conn.execute("CREATE TABLE customer (customer_id TEXT PRIMARY KEY, name TEXT, phone TEXT, "
                 "id_number TEXT, risk_level TEXT) WITHOUT ROWID")
    conn.executemany("INSERT INTO customer VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("CREATE TABLE ow_bench_meta (fingerprint TEXT)")
    conn.execute("INSERT INTO ow_bench_meta VALUES (?)", (fp,))
    conn.commit()
    conn.close()


def deleted(n: int, offset: int, every: int = 600) -> int:
    """How many reference rows ``channel_rows(n, offset)`` leaves out."""
    first = (offset + 2) % every or every
    return 0 if first > n else (n - first) // every + 1


def setup_full(n: int, rebuild: bool) -> None:
    ref, ref_fp = "ow_cons_bench_ref", fingerprint(customer, "reference", n)
    ensure(ref, lambda: pg_state(ref), n, ref_fp,
           lambda: load_pg(ref, (customer(i) for i in range(1, n + 1)), fp=ref_fp), rebuild)
    pg_fp, my_fp, lite_fp = (fingerprint(channel_rows, n, o) for o in (11, 22, 33))
    ensure("ow_cons_bench_pg", lambda: pg_state("ow_cons_bench_pg"), n - deleted(n, 11),
           pg_fp, lambda: load_pg("ow_cons_bench_pg", channel_rows(n, 11), fp=pg_fp), rebuild)
    ensure("ow_cons_bench_my", lambda: my_state("ow_cons_bench_my"), n - deleted(n, 22),
           my_fp, lambda: load_mysql("ow_cons_bench_my", channel_rows(n, 22), fp=my_fp),
           rebuild)
    ensure(str(SQLITE_PATH), lambda: sqlite_state(SQLITE_PATH), n - deleted(n, 33), lite_fp,
           lambda: load_sqlite(channel_rows(n, 33), lite_fp), rebuild)


def setup_pair(collation: str, n: int, ratio: float, rebuild: bool) -> tuple[str, str]:
    """The checksum pair of ``collation`` at ``n`` rows and ``ratio`` differences, built
    only where missing or stale; returns the two table names."""
    ref, chan = checksum_tables(collation, n, ratio)
    _, pg_key, my_key = CHECKSUM_TABLES[collation]
    ref_fp = fingerprint(customer, "reference", n, pg_key)
    built = ensure(ref, lambda: pg_state(ref), n, ref_fp,
                   lambda: load_pg(ref, (customer(i) for i in range(1, n + 1)), pg_key,
                                   ref_fp), rebuild)
    # The byte-collation figures keep their evenly spread differences.
    at_random = collation != "bytes"
    fp = fingerprint(diffs_rows, n, ratio, at_random, my_key)
    built |= ensure(chan, lambda: my_state(chan), n, fp,
                    lambda: load_mysql(chan, diffs_rows(n, ratio, at_random), my_key, fp),
                    rebuild)
    if built:
        settle()
    return ref, chan


# -- runs -------------------------------------------------------------------------------

FIELDS = ["name", "phone", "id_number", "risk_level"]


def full_config(workers: int = 2) -> dict[str, Any]:
    return {
        "reference": "branch", "fields": FIELDS, "workers": workers,
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_bench_ref"},
            "app": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_bench_pg"},
            "miniprogram": {"kind": "mysql", "dsn": MY_URL, "table": "ow_cons_bench_my"},
            "website": {"kind": "sqlite", "path": str(SQLITE_PATH), "table": "customer"},
        },
    }


def pair_config(ref: str, chan: str, workers: int = 2, timeout: str = "60s"
                ) -> dict[str, Any]:
    # workers: used in full mode, and when differences are dense and the pair is streamed
    return {
        "reference": "branch", "fields": FIELDS, "workers": workers,
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": ref, "timeout": timeout},
            "app": {"kind": "mysql", "dsn": MY_URL, "table": chan, "timeout": timeout},
        },
    }


def child(spec: str) -> None:
    """Run one check in this (fresh) process and print its figures as JSON."""
    # Run as a script, bench/ is first on sys.path, and bench/alerts.py would shadow the
    # alerts package that monitor.config imports.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    from monitor.config.consistency import build_consistency
    from monitor.consistency.run import run_check

    job = json.loads(spec)
    config = build_consistency(job["config"], "bench", Path.cwd())
    t = time.monotonic()
    reports = run_check(config, mode=job["mode"], now=NOW)
    seconds = time.monotonic() - t
    # ru_maxrss is in KiB on Linux.  RUSAGE_CHILDREN: the largest worker waited for.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({
        "seconds": seconds, "rss_mb": rss_mb, "child_rss_mb": child_mb,
        "reports": [{"channel": r.channel, "mode": r.mode, "error": r.error,
                     "counts": {str(k): v for k, v in r.counts.items() if v},
                     "rows_read": dict(r.rows_read)} for r in reports],
    }))


def run_child(mode: str, config: dict[str, Any]) -> dict[str, Any]:
    """One check in a fresh process; ``wall`` includes start-up, as the peer's does."""
    t = time.monotonic()
    spec = json.dumps({"mode": mode, "config": config})
    out = subprocess.run([sys.executable, __file__, "--child", spec], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.monotonic() - t
    return result


def run_peer(peer: str, ref: str, chan: str) -> tuple[float, int]:
    """reladiff on the checksum pair: wall seconds and the number of differences printed."""
    script = f"""
import sys
import sqeleton.databases.mysql
sqeleton.databases.mysql.MySQL.SUPPORTS_ALPHANUMS = True  # {PEER_PATCH}
from reladiff.__main__ import main
sys.argv = ["reladiff", "{PG_URL}", "{ref}", "{MY_URL}", "{chan}",
            "-k", "customer_id", "-c", "name", "-c", "phone", "-c", "id_number",
            "-c", "risk_level", "--bisection-threshold", "65536"]
main()
"""
    t = time.monotonic()
    out = subprocess.run([peer, "-c", script], capture_output=True, text=True)
    seconds = time.monotonic() - t
    if out.returncode != 0 or "rror" in out.stderr:
        raise RuntimeError(f"reladiff failed: {out.stderr[-2000:]}")
    lines = [ln for ln in out.stdout.splitlines() if ln[:1] in "+-"]
    return seconds, len(lines)


def full_lines(label: str, res: dict[str, Any]) -> list[str]:
    # ru_maxrss of the check's process, and of its largest worker (workers: 2): each
    # worker holds one key range's merge, the same constant-size state.
    workers = (f" (largest worker {res['child_rss_mb']:.0f} MB)" if res["child_rss_mb"]
               else " (no workers)")
    lines = [f"{label}: {res['seconds']:.1f} s, peak RSS {res['rss_mb']:.0f} MB{workers}"]
    lines += [f"  {r['channel']}: {r['mode']} {r['counts']} error={r['error']}"
              for r in res["reports"]]
    return lines


def bench_full(n: int, rebuild: bool) -> list[str]:
    setup_full(n, rebuild)
    lines = []
    for workers in (2, 1):
        lines += full_lines(f"full mode (workers: {workers}), {n:,} reference rows, "
                            "3 channels", run_child("full", full_config(workers)))
    return lines


def bench_full_memory(n: int, collation: str, rebuild: bool) -> list[str]:
    """Full mode over the checksum pair: memory must not grow with the rows."""
    ref, chan = setup_pair(collation, n, MEMORY_RATIO, rebuild)
    lines = []
    for workers in (1, 2):
        lines += full_lines(f"full mode (workers: {workers}), {n:,} rows, {collation} "
                            f"collation, {MEMORY_RATIO:.1%} differences",
                            # Streaming is one statement per source: at 10^7 rows it
                            # outlasts the default 60 s statement timeout.
                            run_child("full", pair_config(ref, chan, workers, "1h")))
    return lines


def settle(timeout: float = 30.0) -> None:
    """Let both databases finish writing what a load left dirty, so that background
    flushing does not slow whichever tool happens to run first after a load."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    conn2 = pymysql.connect(host="127.0.0.1", user="root", database="test")
    try:
        deadline = time.monotonic() + timeout
        with conn2.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                row = cur.fetchone()
                if not row or int(row[1]) < 1000:  # 16 MB: the load itself is written
                    break
                time.sleep(0.5)
    finally:
        conn2.close()


def bench_checksum(n: int, peer: str | None, ratios: list[float],
                   collation: str = "bytes", rebuild: bool = False) -> list[str]:
    lines = []
    for ratio in ratios:
        ref, chan = setup_pair(collation, n, ratio, rebuild)
        ours = run_child("checksum", pair_config(ref, chan))
        (rep,) = ours["reports"]
        line = (f"checksum ({collation} collation) {ratio:.1%} differences: "
                f"omniwatch {ours['wall']:.2f} s "
                f"({rep['mode']}, mismatches {rep['counts'].get('mismatch', 0)}, "
                f"rows fetched {rep['rows_read']}, peak RSS {ours['rss_mb']:.0f} MB)")
        if rep["error"]:  # a failed check must never read as "0 mismatches"
            line += f" ERROR: {rep['error']}"
        if peer:
            peer_s, peer_diffs = run_peer(peer, ref, chan)
            line += (f"; reladiff {peer_s:.2f} s ({peer_diffs} diff lines); "
                     f"reladiff/omniwatch = {peer_s / ours['wall']:.2f}x")
        lines.append(line)
    return lines


def drop_all() -> None:
    """Every benchmark table, of every size, in both databases, and the SQLite file."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE 'ow\\_cons\\_bench\\_%'")]
        if names:
            conn.execute(f"DROP TABLE IF EXISTS {', '.join(names)}")
    conn2 = pymysql.connect(host="127.0.0.1", user="root", database="test")
    try:
        with conn2.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                        "TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ow\\_cons\\_bench\\_%'")
            my_names = [r[0] for r in cur.fetchall()]
            if my_names:
                cur.execute(f"DROP TABLE IF EXISTS {', '.join(my_names)}")
    finally:
        conn2.close()
    SQLITE_PATH.unlink(missing_ok=True)
    print(f"# dropped {len(names)} PostgreSQL and {len(my_names)} MariaDB tables",
          file=sys.stderr)


EPILOG = """Tables are built once and reused while their row count and fingerprint match;
--rebuild forces a rebuild, --drop removes them all.  --rows 10000000 (about 4 minutes
per pair to build here, several GB of disk) is not part of CI: run it by hand."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="reference rows (default 1,000,000; 10,000,000 is not run in CI)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the tables even if they are current")
    parser.add_argument("--drop", action="store_true", help="drop every benchmark table")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-checksum", action="store_true")
    parser.add_argument("--full-memory", action="store_true",
                        help="also full mode over the checksum pair: seconds and peak RSS")
    parser.add_argument("--peer", default="/tmp/reladiff-venv/bin/python",
                        help="a Python with reladiff[postgresql,mysql]==0.6.0 installed")
    parser.add_argument("--ratios", default="0,0.001,0.01")
    parser.add_argument("--collation", choices=sorted(CHECKSUM_TABLES), default="bytes",
                        help="checksum tables keyed by bytes, or in default collations")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.drop:
        drop_all()
        return
    lines: list[str] = []
    if not args.skip_full:
        lines += bench_full(args.rows, args.rebuild)
        print("\n".join(lines), flush=True)
    if not args.skip_checksum:
        peer = args.peer if Path(args.peer).exists() else None
        more = bench_checksum(args.rows, peer, [float(r) for r in args.ratios.split(",")],
                              args.collation, args.rebuild)
        print("\n".join(more), flush=True)
        lines += more
    if args.full_memory:
        more = bench_full_memory(args.rows, args.collation, args.rebuild)
        print("\n".join(more), flush=True)
        lines += more
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
