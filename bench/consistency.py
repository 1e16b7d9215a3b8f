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

The databases are the local ones (PostgreSQL 127.0.0.1:5432 ``test``, MariaDB
127.0.0.1:3306 ``test``); tables are prefixed ``ow_cons_bench_`` and kept between runs
(``--rebuild`` recreates them; ``--drop`` removes them).  Results go to stdout and,
with ``--out``, to a Markdown file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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

# Checksum pairs by key collation: (reference table, channel table, PostgreSQL key
# column, MariaDB key column).  The byte-collation tables stay as they were.
CHECKSUM_TABLES = {
    "bytes": ("ow_cons_bench_cs_ref", "ow_cons_bench_cs_ch", 'text COLLATE "C"',
              "VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin"),
    "default": ("ow_cons_bench_dc_ref", "ow_cons_bench_dc_ch", "text",
                "VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
}
PG_KEY = CHECKSUM_TABLES["bytes"][2]
MY_KEY = CHECKSUM_TABLES["bytes"][3]


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


# -- loading ----------------------------------------------------------------------------

def load_pg(table: str, rows: Iterator[tuple[str, ...]], key: str = PG_KEY) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (customer_id {key} PRIMARY KEY, "
                     "name text, phone text, id_number text, risk_level text)")
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(f"VACUUM ANALYZE {table}")


def load_mysql(table: str, rows: Iterator[tuple[str, ...]], key: str = MY_KEY) -> None:
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
    finally:
        conn.close()
        os.unlink(path)


def load_sqlite(rows: Iterator[tuple[str, ...]]) -> None:
    SQLITE_PATH.unlink(missing_ok=True)
    conn = sqlite3.connect(SQLITE_PATH)
    conn.execute("CREATE TABLE customer (customer_id TEXT PRIMARY KEY, name TEXT, phone TEXT, "
                 "id_number TEXT, risk_level TEXT) WITHOUT ROWID")
    conn.executemany("INSERT INTO customer VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def pg_count(table: str) -> int:
    with psycopg.connect(PG_DSN) as conn:
        try:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        except psycopg.errors.UndefinedTable:
            return -1
    return int(row[0]) if row else -1


def setup_full(n: int, rebuild: bool) -> None:
    if not rebuild and pg_count("ow_cons_bench_ref") == n and SQLITE_PATH.exists():
        return
    t = time.monotonic()
    load_pg("ow_cons_bench_ref", (customer(i) for i in range(1, n + 1)))
    load_pg("ow_cons_bench_pg", channel_rows(n, 11))
    load_mysql("ow_cons_bench_my", channel_rows(n, 22))
    load_sqlite(channel_rows(n, 33))
    print(f"# loaded full-mode tables in {time.monotonic() - t:.1f}s", file=sys.stderr)


# -- runs -------------------------------------------------------------------------------

def full_config(workers: int = 2) -> dict[str, Any]:
    return {
        "reference": "branch", "fields": ["name", "phone", "id_number", "risk_level"],
        "workers": workers,
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_bench_ref"},
            "app": {"kind": "postgres", "dsn": PG_DSN, "table": "ow_cons_bench_pg"},
            "miniprogram": {"kind": "mysql", "dsn": MY_URL, "table": "ow_cons_bench_my"},
            "website": {"kind": "sqlite", "path": str(SQLITE_PATH), "table": "customer"},
        },
    }


def checksum_config(collation: str = "bytes") -> dict[str, Any]:
    ref, chan = CHECKSUM_TABLES[collation][:2]
    return {
        "reference": "branch", "fields": ["name", "phone", "id_number", "risk_level"],
        "workers": 2,  # used when differences are dense and the pair is streamed
        "sources": {
            "branch": {"kind": "postgres", "dsn": PG_DSN, "table": ref},
            "app": {"kind": "mysql", "dsn": MY_URL, "table": chan},
        },
    }


def child(kind: str) -> None:
    """Run one check in this (fresh) process and print its figures as JSON."""
    # Run as a script, bench/ is first on sys.path, and bench/alerts.py would shadow the
    # alerts package that monitor.config imports.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    from monitor.config.consistency import build_consistency
    from monitor.consistency.run import run_check

    checksum, _, collation = kind.partition(":")  # "checksum:default"
    raw = ({"full": full_config(2), "full1": full_config(1)}.get(kind)
           or checksum_config(collation or "bytes"))
    config = build_consistency(raw, "bench", Path.cwd())
    t = time.monotonic()
    reports = run_check(config, mode="checksum" if checksum == "checksum" else "full", now=NOW)
    seconds = time.monotonic() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({
        "seconds": seconds, "rss_mb": rss_mb, "child_rss_mb": child_mb,
        "reports": [{"channel": r.channel, "mode": r.mode, "error": r.error,
                     "counts": {str(k): v for k, v in r.counts.items() if v},
                     "rows_read": dict(r.rows_read)} for r in reports],
    }))


def run_child(kind: str) -> dict[str, Any]:
    """One check in a fresh process; ``wall`` includes start-up, as the peer's does."""
    t = time.monotonic()
    out = subprocess.run([sys.executable, __file__, "--child", kind], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.monotonic() - t
    return result


def run_peer(peer: str, collation: str = "bytes") -> tuple[float, int]:
    """reladiff on the checksum pair: wall seconds and the number of differences printed."""
    ref, chan = CHECKSUM_TABLES[collation][:2]
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


def bench_full(n: int, rebuild: bool) -> list[str]:
    setup_full(n, rebuild)
    lines = []
    for kind, label in (("full", "workers: 2"), ("full1", "workers: 1")):
        res = run_child(kind)
        # ru_maxrss of the parent: the workers' own peaks are reported by the OS per
        # process; each holds one key range's merge, the same constant-size state.
        lines.append(f"full mode ({label}), {n:,} reference rows, 3 channels: "
                     f"{res['seconds']:.1f} s, peak RSS {res['rss_mb']:.0f} MB "
                     f"(largest worker {res['child_rss_mb']:.0f} MB)")
        for r in res["reports"]:
            lines.append(f"  {r['channel']}: {r['mode']} {r['counts']} error={r['error']}")
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
                   collation: str = "bytes") -> list[str]:
    ref, chan, pg_key, my_key = CHECKSUM_TABLES[collation]
    load_pg(ref, (customer(i) for i in range(1, n + 1)), pg_key)
    lines = []
    for ratio in ratios:
        # The byte-collation figures keep their evenly spread differences.
        load_mysql(chan, diffs_rows(n, ratio, at_random=collation != "bytes"), my_key)
        settle()
        ours = run_child(f"checksum:{collation}")
        (rep,) = ours["reports"]
        line = (f"checksum ({collation} collation) {ratio:.1%} differences: "
                f"omniwatch {ours['wall']:.2f} s "
                f"({rep['mode']}, mismatches {rep['counts'].get('mismatch', 0)}, "
                f"rows fetched {rep['rows_read']})")
        if rep["error"]:  # a failed check must never read as "0 mismatches"
            line += f" ERROR: {rep['error']}"
        if peer:
            peer_s, peer_diffs = run_peer(peer, collation)
            line += (f"; reladiff {peer_s:.2f} s ({peer_diffs} diff lines); "
                     f"reladiff/omniwatch = {peer_s / ours['wall']:.2f}x")
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark tables")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-checksum", action="store_true")
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
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS ow_cons_bench_ref, ow_cons_bench_pg, "
                         "ow_cons_bench_cs_ref, ow_cons_bench_dc_ref")
        conn2 = pymysql.connect(host="127.0.0.1", user="root", database="test")
        with conn2.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS ow_cons_bench_my, ow_cons_bench_cs_ch, "
                        "ow_cons_bench_dc_ch")
        conn2.close()
        SQLITE_PATH.unlink(missing_ok=True)
        return
    lines: list[str] = []
    if not args.skip_full:
        lines += bench_full(args.rows, args.rebuild)
        print("\n".join(lines), flush=True)
    if not args.skip_checksum:
        peer = args.peer if Path(args.peer).exists() else None
        more = bench_checksum(args.rows, peer, [float(r) for r in args.ratios.split(",")],
                              args.collation)
        print("\n".join(more), flush=True)
        lines += more
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
