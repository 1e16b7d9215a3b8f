"""The embedded default backend: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from monitor.store.sql import SqlProbeStore

_ERROR_CLASSES: Final = (
    ("SQLITE_READONLY", "read_only"),
    ("SQLITE_FULL", "disk_full"),
    ("SQLITE_IOERR", "io_error"),
    ("SQLITE_BUSY", "locked"),
    ("SQLITE_LOCKED", "locked"),
    ("SQLITE_CANTOPEN", "cannot_open"),
)


class SqliteProbeStore(SqlProbeStore):
    """A :class:`SqlProbeStore` in one SQLite file (``":memory:"`` for a throwaway one).

    WAL lets ``omniwatch slo`` and ``omniwatch report`` read while the server writes.
    ``synchronous=NORMAL`` in WAL mode keeps every committed flush across a process crash
    (``kill -9``); only an OS crash or power loss can lose the last flushes.
    """

    dialect = "sqlite"
    placeholder = "?"
    driver_errors = (sqlite3.Error,)

    def __init__(self, path: str, **options: Any) -> None:
        self.path = path
        super().__init__(self._connect, **options)

    def _connect(self) -> sqlite3.Connection:
        # The driver's implicit transactions skip DDL, so transactions are explicit
        # (isolation_level=None plus BEGIN): one flush or one migration, one transaction.
        # The store serialises use of the connection across threads itself.
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
        except BaseException:
            conn.close()
            raise
        return conn

    def _classify(self, exc: BaseException) -> str:
        # The connection survives these: a file made writable again takes the next flush.
        name = getattr(exc, "sqlite_errorname", None) or ""
        for prefix, error in _ERROR_CLASSES:
            if name.startswith(prefix):
                return error
        return "database"

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN")
