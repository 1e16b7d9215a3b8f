"""How long an ``omniwatch`` command takes to start, as a ratio to ``python -c pass``.

An on-call engineer runs ``omniwatch probe`` many times a night; a command that spends
half a second importing database drivers before it opens one socket is a command people
stop using.  Each command below is run ``--runs`` times (default 10), interleaved with the
baseline so that machine noise hits both alike, and the median wall time is compared with
the median of ``python -c pass`` from the same interpreter in the same run.

The probes go to servers this script starts on 127.0.0.1 (a TCP listener and an HTTP
server), so they succeed and measure start-up plus one real probe.

    .venv/bin/python bench/startup.py [--runs 10] [--tree DIR]

``--tree DIR`` measures another checkout (``python -m monitor`` with ``DIR`` first on the
path), e.g. the commit before a change, on the same machine in the same minute.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _procs import health_server

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE_ENV = {  # the example config's ${...} references, with harmless values
    "APP_PROBE_TOKEN": "bench", "MINI_CLIENT_KEY": "bench",
    "OMNIWATCH_PG_DSN": "postgresql://bench@127.0.0.1/bench",
    "BRANCH_DSN": "postgresql://bench@127.0.0.1/bench",
    "APP_DSN": "mysql://bench@127.0.0.1:3306/bench",
    "OMNIWATCH_API_TOKEN": "bench", "SLACK_BOT_TOKEN": "bench",
}


@contextmanager
def tcp_listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and closes them."""
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()


def wall_seconds(argv: Sequence[str], env: dict[str, str]) -> float:
    """Wall time of one run of ``argv``; a failing command is a broken benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=env.get("PYTHONPATH", ROOT), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="measure the checkout in DIR instead of the installed omniwatch")
    args = parser.parse_args()

    python = sys.executable
    script = Path(python).with_name("omniwatch")
    omniwatch = [str(script)] if script.exists() and not args.tree else [python, "-m", "monitor"]
    env = {**os.environ, **EXAMPLE_ENV}
    # As installed: pip writes every module's .pyc, so a command never compiles source.
    # (An editable checkout under PYTHONDONTWRITEBYTECODE=1 would compile all of
    # omniwatch on every run, which no user's installation does.)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.tree:
        env["PYTHONPATH"] = str(args.tree.resolve())
    with tcp_listener() as tcp_port, health_server() as http_port:
        cases: list[tuple[str, list[str], float]] = [
            ("--version", [*omniwatch, "--version"], 4.0),
            ("--help", [*omniwatch, "--help"], 4.0),
            ("probe tcp://…", [*omniwatch, "probe", f"tcp://127.0.0.1:{tcp_port}"], 8.0),
            ("probe http://…", [*omniwatch, "probe", f"http://127.0.0.1:{http_port}/"], 8.0),
            ("config validate (example)", [*omniwatch, "config", "validate",
                                           "omniwatch.example.yaml"], 10.0),
        ]
        baseline: list[float] = []
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _, argv, _ in cases:  # warm the page cache and the .pyc files
            wall_seconds(argv, env)
        for _ in range(args.runs):
            for name, argv, _ in cases:
                baseline.append(wall_seconds([python, "-c", "pass"], env))
                times[name].append(wall_seconds(argv, env))
    base = statistics.median(baseline)
    print(f"python -c pass: median {base * 1000:.0f} ms over {len(baseline)} runs\n")
    print("| command | median | ratio to `python -c pass` | target | met |")
    print("|---|---|---|---|---|")
    failed = False
    for name, _, target in cases:
        median = statistics.median(times[name])
        ratio = median / base
        failed |= ratio > target
        print(f"| `{name}` | {median * 1000:.0f} ms | {ratio:.2f}x | ≤ {target:g}x | "
              f"{'yes' if ratio <= target else 'NO'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
