"""MySQL / MariaDB source: PyMySQL unbuffered cursor, read-only transaction, statement timeout."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import CR, ER

from monitor.consistency.errors import SourceError
from monitor.consistency.sources.dialects import MySqlDialect
from monitor.consistency.sources.sql import Row, SqlSource
from monitor.redact import DsnError, mysql_connect_args, mysql_facts

_TIMEOUT_CODES = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
_LOST_CODES = {2006, 2013, 1927}


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

    def estimate_rows(self) -> int | None:
        """``information_schema.TABLES.TABLE_ROWS``: InnoDB's estimate (within tens of
        percent), never a count."""
        if not self.config.table:
            return None
        schema, _, name = self.config.table.rpartition(".")
        sql = ("SELECT TABLE_ROWS FROM information_schema.TABLES "
               "WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s")
        got = list(self._rows(sql, [schema or None, name]))
        return int(got[0][0]) if got and got[0][0] is not None and got[0][0] > 0 else None

    def _batches(self, sql: str, params: Sequence[object]) -> Iterator[Sequence[Row]]:
        timeout = self.config.timeout_seconds
        try:
            args = mysql_connect_args(self.config.dsn or "")
        except DsnError as exc:
            raise SourceError(self.name, "connect", f"dsn: {exc}") from None
        try:
            conn = pymysql.connect(
                **args, charset="utf8mb4",
                # The server's statement limit should fire first, with a clear error; the
                # socket timeout is the backstop for a server that stops answering.
                connect_timeout=max(1, int(timeout)), read_timeout=int(timeout) + 5,
                cursorclass=pymysql.cursors.SSCursor, autocommit=True,
            )
        except pymysql.Error as exc:
            raise SourceError(self.name, "connect", _describe(exc, self.config.dsn)) from None
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
            raise SourceError(self.name, reason, _describe(exc, self.config.dsn)) from None
        except pymysql.Error as exc:
            raise SourceError(self.name, "query", _describe(exc, self.config.dsn)) from None
        finally:
            release()
            with contextlib.suppress(pymysql.Error):  # already gone: the error says why
                conn.close()


def _error_names() -> dict[int, str]:
    names = {v: k for k, v in vars(ER).items() if k.isupper() and isinstance(v, int)}
    names.update({v: k.removeprefix("CR_") for k, v in vars(CR).items()
                  if k.startswith("CR_") and isinstance(v, int)})
    return names


def _describe(exc: pymysql.Error, dsn: str | None) -> str:
    """What failed and where, without any value the database holds or the password.

    MySQL's texts quote values (``Incorrect integer value: '...'``), so none is passed
    on: the error class, the errno and its symbolic name, the socket error behind a
    failed connection, and the database's address say what and where.
    """
    try:
        where = str(mysql_facts(dsn or ""))
    except DsnError:
        where = "mysql://(unparsable DSN)"
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = type(exc).__name__
    if code is not None:
        name = _error_names().get(code)
        text += f" ({code} {name})" if name else f" ({code})"
    cause = getattr(exc, "original_exception", None)  # PyMySQL keeps it for errno 2003
    if isinstance(cause, OSError):
        text += f": {cause.strerror or type(cause).__name__}"
    elif "timed out" in str(exc):
        text += ": timed out"
    return f"{text} on {where}"


def _not_watched() -> None:
    return None


def kill_connection(dsn: str, conn: pymysql.Connection[Any]) -> None:
    """End ``conn`` from another thread (a cancelled check): ``KILL`` its server thread
    from a second connection, which stops the statement running now and closes the
    session, so no later statement of the check can run on it either."""
    admin = pymysql.connect(**mysql_connect_args(dsn), connect_timeout=5, autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute("KILL %s", (int(conn.thread_id()),))
    finally:
        admin.close()
