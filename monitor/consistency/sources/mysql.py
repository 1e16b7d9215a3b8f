"""MySQL / MariaDB source: PyMySQL unbuffered cursor, read-only transaction, statement timeout."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors

from monitor.consistency.errors import SourceError
from monitor.consistency.sources.dialects import MySqlDialect
from monitor.consistency.sources.sql import Row, SqlSource

_TIMEOUT_CODES = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
_LOST_CODES = {2006, 2013, 1927}
_QUOTED = re.compile(r"'[^']*'")


def connect_args(dsn: str) -> dict[str, Any]:
    """PyMySQL keyword arguments from ``mysql://user:password@host:port/database``."""
    parts = urlsplit(dsn)
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1", "port": parts.port or 3306,
        "user": unquote(parts.username or "root"), "password": unquote(parts.password or ""),
    }
    database = parts.path.lstrip("/")
    if database:
        args["database"] = unquote(database)
    return args


class MySqlSource(SqlSource):
    """Customer records in a MySQL or MariaDB table or query (``kind: mysql``)."""

    dialect = MySqlDialect()
    _binary_keys: bool | None = None

    def _keys_sort_binary(self) -> bool:
        # ``ORDER BY CAST(k AS BINARY)`` cannot use an index; a key column in a ``*_bin``
        # collation sorts the same way (save PAD SPACE on trailing blanks, which the
        # merge's order check would catch), so it is sorted natively, through its index.
        if self._binary_keys is None:
            self._binary_keys = False
            table = self.config.table
            if table:
                schema, _, name = table.rpartition(".")
                sql = ("SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s")
                found: dict[str, str | None] = dict(self._rows(sql, [schema or None, name]))
                self._binary_keys = all(str(found.get(c) or "").endswith("_bin")
                                        for c in self.layout.key_columns)
        return self._binary_keys

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        timeout = self.config.timeout_seconds
        try:
            conn = pymysql.connect(
                **connect_args(self.config.dsn or ""), charset="utf8mb4",
                # The server's statement limit should fire first, with a clear error; the
                # socket timeout is the backstop for a server that stops answering.
                connect_timeout=max(1, int(timeout)), read_timeout=int(timeout) + 5,
                cursorclass=pymysql.cursors.SSCursor, autocommit=True,
            )
        except pymysql.Error as exc:
            raise SourceError(self.name, "connect", _message(exc)) from None
        release = _not_watched
        try:
            release = self._watch(lambda: kill_connection(self.config.dsn or "", conn))
            # No ``with``: closing an unbuffered cursor drains every unread row, which
            # would read a whole table after an early stop. Closing the connection doesn't.
            cur = conn.cursor()
            if "mariadb" in conn.get_server_info().lower():
                cur.execute("SET SESSION max_statement_time = %s", (timeout,))
            else:
                cur.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
            if self.layout.salt is not None and any(self.layout.hash_kinds):
                cur.execute("SET @ow_hash_salt = %s", (self.layout.salt,))
            # Checksum mode's per-range hash lists (sources/ranges.py) are one value each.
            cur.execute("SET SESSION group_concat_max_len = 4294967295")
            cur.execute("START TRANSACTION READ ONLY")
            cur.execute(sql, tuple(params))
            while batch := cur.fetchmany(self.config.fetch_size):
                yield batch
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            reason = ("timeout" if code in _TIMEOUT_CODES or "timed out" in str(exc)
                      else "lost" if code in _LOST_CODES else "query")
            raise SourceError(self.name, reason, _message(exc)) from None
        except pymysql.Error as exc:
            raise SourceError(self.name, "query", _message(exc)) from None
        finally:
            release()
            with contextlib.suppress(pymysql.Error):  # already gone: the error says why
                conn.close()


def _message(exc: BaseException) -> str:
    # MySQL quotes values (and some names) in single quotes, e.g. "Incorrect integer
    # value: 'abc'": none of them may reach a log line or Slack.
    text = f"({exc.args[0]}) {exc.args[1]}" if len(exc.args) >= 2 else str(exc)
    return _QUOTED.sub("'…'", text) or type(exc).__name__


def _not_watched() -> None:
    return None


def kill_connection(dsn: str, conn: pymysql.Connection[Any]) -> None:
    """End ``conn`` from another thread (a cancelled check): ``KILL`` its server thread
    from a second connection, which stops the statement running now and closes the
    session, so no later statement of the check can run on it either."""
    admin = pymysql.connect(**connect_args(dsn), connect_timeout=5, autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute("KILL %s", (int(conn.thread_id()),))
    finally:
        admin.close()
