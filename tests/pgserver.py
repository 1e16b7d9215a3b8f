"""A private PostgreSQL server that a test may stop, kill and restart.

Never the shared server on 5432: :class:`PgServer` runs ``initdb`` and ``pg_ctl`` (as the
``postgres`` user when the tests run as root) on its own data directory and a free port,
trust authentication on 127.0.0.1 only.  Use the ``pg_server`` fixture, or the class
directly for a server that outlives one test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support import require

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_binaries_available() -> bool:
    """Whether initdb and pg_ctl are installed (and a ``postgres`` user exists as root)."""
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return False
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return False
    return True


class PgServer:
    """One PostgreSQL cluster in a temporary directory; ``dsn`` reaches database ``test``."""

    def __init__(self) -> None:
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="ow-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.dsn = f"host=127.0.0.1 port={self.port} dbname=test user=postgres connect_timeout=3"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")
        self.start()
        with psycopg.connect(self.dsn.replace("dbname=test", "dbname=postgres"),
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")

    def _run(self, *argv: str) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.root / "server.log"), "-o", opts, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends sessions; ``immediate`` is like a crash)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        """Whether the server answers."""
        try:
            psycopg.connect(self.dsn).close()
        except psycopg.OperationalError:
            return False
        return True

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for one test, removed afterwards."""
    require(pg_binaries_available(), f"PostgreSQL server binaries not found in {PG_BIN}")
    server = PgServer()
    try:
        yield server
    finally:
        server.destroy()
