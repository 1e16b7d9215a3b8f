"""SQLite source: the file opened read-only; a progress handler enforces the timeout."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from monitor.consistency.errors import SourceError
from monitor.consistency.normalise import hash_value
from monitor.consistency.sources.dialects import SqliteDialect
from monitor.consistency.sources.sql import Row, SqlSource

# Counting walks the table: at about 1 GB/s of pages, a second at most.
COUNT_MAX_BYTES = 1 << 30


def _decode(raw: bytes) -> str:
    # Broken UTF-8 must not abort the read: lone surrogates mark it, and the customer
    # schema rejects them, so the record is counted invalid.
    return raw.decode("utf-8", "surrogateescape")


class SqliteSource(SqlSource):
    """Customer records in an SQLite file (``kind: sqlite``)."""

    dialect = SqliteDialect()
    _binary_keys: bool | None = None

    def _keys_sort_binary(self) -> bool:
        # A column with TEXT affinity stores numbers as text, and BINARY collation orders
        # text by bytes: ORDER BY can then walk the key's index.  (A stray BLOB key would
        # sort last and trip the merge's order check: loud, not wrong.)
        if self._binary_keys is None:
            self._binary_keys = False
            if self.config.table and "." not in self.config.table:
                sql = "SELECT name, upper(type) FROM pragma_table_info(?)"
                types: dict[str, str] = dict(self._rows(sql, [self.config.table]))
                self._binary_keys = all(
                    any(t in (types.get(c) or "") for t in ("CHAR", "CLOB", "TEXT"))
                    for c in self.layout.key_columns)
        return self._binary_keys

    def estimate_rows(self) -> int | None:
        """The exact count, when the file is small enough for that to be cheap (SQLite
        keeps no row estimate; ``count(*)`` walks the smallest index)."""
        path = Path(self.config.path or "")
        if not self.config.table or not path.is_file() or path.stat().st_size > COUNT_MAX_BYTES:
            return None
        got = list(self._rows(f"SELECT count(*) FROM {self._relation}", []))
        return int(got[0][0]) if got else None

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        path = Path(self.config.path or "")
        if not path.is_file():
            raise SourceError(self.name, "connect", f"no such file {path.name!r}")
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise SourceError(self.name, "connect", _describe(exc, path)) from None
        deadline = time.monotonic() + self.config.timeout_seconds
        scope = self.cancel  # a cancelled check interrupts its statement the same way
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline or (
            scope is not None and scope.cancelled)), 10000)
        conn.text_factory = _decode
        salt = self.layout.salt
        if salt is not None:
            conn.create_function("ow_hash", 2, lambda kind, v: hash_value(kind, salt, v),
                                 deterministic=True)
        try:
            conn.execute("PRAGMA query_only = 1")
            cur = conn.execute(sql, tuple(params))
            while batch := cur.fetchmany(self.config.fetch_size):
                yield batch
        except sqlite3.OperationalError as exc:
            reason = "timeout" if "interrupted" in str(exc) else "query"
            raise SourceError(self.name, reason, _describe(exc, path)) from None
        except sqlite3.Error as exc:
            raise SourceError(self.name, "query", _describe(exc, path)) from None
        finally:
            conn.close()


def _describe(exc: sqlite3.Error, path: Path) -> str:
    # SQLite's texts name the SQL's tokens and identifiers ("no such column: x"), never a
    # row's values (unlike PostgreSQL's and MySQL's), so they are kept, with the code.
    code = getattr(exc, "sqlite_errorname", None)
    return f"{type(exc).__name__} ({code}): {exc} in {path.name}" if code else \
        f"{type(exc).__name__}: {exc} in {path.name}"
