"""The embedded default backend: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from typing import Any

from monitor.store.sql import SqlProbeStore


class SqliteProbeStore(SqlProbeStore):
    """A :class:`SqlProbeStore` in one SQLite file (``":memory:"`` for a throwaway one).

    WAL lets ``omniwatch slo`` and ``omniwatch report`` read while the server writes.
    ``synchronous=NORMAL`` in WAL mode keeps every committed flush across a process crash
    (``kill -9``); only an OS crash or power loss can lose the last flushes.
    """

    dialect = "sqlite"
    placeholder = "?"

    def __init__(self, path: str, **options: Any) -> None:
        # The driver's implicit transactions skip DDL, so transactions are explicit
        # (isolation_level=None plus BEGIN): one flush or one migration, one transaction.
        # The store serialises use of the connection across threads itself.
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        self.path = path
        super().__init__(conn, **options)

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN")
