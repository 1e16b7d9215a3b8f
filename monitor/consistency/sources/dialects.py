"""How each SQL dialect spells the canonical expressions: quoting, text casts, ordering,
row text, and the md5-based key and row hashes (see :mod:`.sql` for what they mean).

PostgreSQL and MySQL write byte-identical row text, hence identical hashes; SQLite has no
MD5, so its sources stream instead of checksumming.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Dialect:
    """How one SQL dialect spells the canonical expressions."""

    name = "sql"
    param = "%s"
    mod = "%%"  # the modulo operator, escaped for drivers using %s placeholders
    quote_char = '"'
    supports_checksum = False
    drive_join = "JOIN"  # a join whose left side drives (key ranges, sources/ranges.py)

    def quote(self, ident: str) -> str:
        """``ident`` as a quoted identifier; ``schema.table`` quotes each part."""
        q = self.quote_char
        return ".".join(q + part.replace(q, q + q) + q for part in ident.split("."))

    def text(self, expr: str) -> str:
        """``expr`` cast to text."""
        return f"CAST({expr} AS TEXT)"

    def order(self, column: str, binary: bool) -> str:
        """How to sort (and range-compare) a key column: by bytes, or as it is."""
        return f"{self.text(column)} COLLATE BINARY" if binary else f"{column} COLLATE BINARY"

    def concat(self, exprs: Sequence[str]) -> str:
        """Text expressions joined by U+001F, NULL as U+001E: the canonical row text."""
        raise NotImplementedError

    def key_part(self, text: str) -> str:
        """One part of a compound key as ``length:text`` (NULL stays NULL), so that parts
        joined by U+001F cannot collide: ``('a\x1fb', 'c')`` vs ``('a', 'b\x1fc')``."""
        return f"(CAST(length({text}) AS TEXT) || ':' || {text})"

    def key_hash(self, text: str) -> str:
        """The 32-bit key hash: first 8 hex digits of ``md5(text)`` as an integer."""
        raise NotImplementedError

    def row_hash(self, text: str) -> str:
        """The 60-bit row hash: first 15 hex digits of ``md5(text)`` as an integer."""
        raise NotImplementedError

    def row_hash_hex(self, text: str, digits: int) -> str:
        """The first ``digits`` hex digits of ``md5(text)``, as text."""
        raise NotImplementedError

    def joined(self, key: str, entry: str) -> str:
        """Aggregate: ``key || entry`` of every row of a group joined by U+001E."""
        raise NotImplementedError

    def hashed(self, column: str, kind: str) -> str:
        """Salted SHA-256 of a column for ``hash_fields`` (see ``normalise.hash_basis``)."""
        raise NotImplementedError

    def random(self) -> str:
        """A random number per row, for sampling."""
        return "random()"

    def changed_since(self, column: str) -> str:
        """Rows whose ``updated_at`` ``column`` is at or after the parameter."""
        return f"{column} >= {self.param}"

    def moment(self, at: datetime) -> object:
        """``at`` as the parameter of :meth:`changed_since`: in UTC, because a column
        without a zone is read as UTC (and PyMySQL drops the zone of what it sends)."""
        return _utc(at)

    def escape_query(self, query: str) -> str:
        """A configured query made safe to send with parameters (literal ``%`` doubled)."""
        return query.replace("%", "%%") if self.param == "%s" else query


class PostgresDialect(Dialect):
    """PostgreSQL: ``COLLATE "C"`` for byte order, ``md5`` and bit-string casts."""

    name = "postgres"
    supports_checksum = True

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS text)"

    def order(self, column: str, binary: bool) -> str:
        return f'{self.text(column)} COLLATE "C"' if binary else column

    def concat(self, exprs: Sequence[str]) -> str:
        return "concat_ws(chr(31), " + ", ".join(f"coalesce({e}, chr(30))" for e in exprs) + ")"

    def key_part(self, text: str) -> str:
        return f"(length({text})::text || ':' || {text})"

    def key_hash(self, text: str) -> str:
        return f"(('x' || substr(md5({text}), 1, 8))::bit(32)::bigint)"

    def row_hash(self, text: str) -> str:
        return f"(('x' || substr(md5({text}), 1, 15))::bit(60)::bigint)"

    def row_hash_hex(self, text: str, digits: int) -> str:
        return f"substr(md5({text}), 1, {int(digits)})"

    def joined(self, key: str, entry: str) -> str:
        return f"string_agg({key} || {entry}, chr(30))"

    def hashed(self, column: str, kind: str) -> str:
        v = f"btrim({self.text(column)}, ' ')"
        if kind == "email":
            v = f"lower({v})"
        elif kind == "id_number":
            v = f"upper({v})"
        elif kind == "phone":
            d = f"regexp_replace({self.text(column)}, '[^0-9]', '', 'g')"
            v = (f"(CASE WHEN length({d}) = 13 AND left({d}, 2) = '86' THEN substr({d}, 3) "
                 f"WHEN length({d}) = 15 AND left({d}, 4) = '0086' THEN substr({d}, 5) "
                 f"ELSE {d} END)")
        return ("encode(sha256(convert_to(current_setting('omniwatch.hash_salt') || "
                f"nullif({v}, ''), 'UTF8')), 'hex')")


class MySqlDialect(Dialect):
    """MySQL / MariaDB: ``BINARY`` for byte order, ``MD5``/``CONV`` for hashes."""

    name = "mysql"
    quote_char = "`"
    supports_checksum = True
    drive_join = "STRAIGHT_JOIN"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS CHAR)"

    def order(self, column: str, binary: bool) -> str:
        # BINARY compares bytes with no PAD SPACE rule: 'a ' sorts after 'a', as in Python.
        return f"CAST({column} AS BINARY)" if binary else column

    def concat(self, exprs: Sequence[str]) -> str:
        return ("CONCAT_WS(CHAR(31 USING utf8mb4), "
                + ", ".join(f"COALESCE({e}, CHAR(30 USING utf8mb4))" for e in exprs) + ")")

    def key_part(self, text: str) -> str:
        # CHAR_LENGTH counts code points, as PostgreSQL's length() does.
        return f"CONCAT(CHAR_LENGTH({text}), ':', {text})"

    def key_hash(self, text: str) -> str:
        return f"CAST(CONV(SUBSTRING(MD5({text}), 1, 8), 16, 10) AS UNSIGNED)"

    def row_hash(self, text: str) -> str:
        return f"CAST(CONV(SUBSTRING(MD5({text}), 1, 15), 16, 10) AS UNSIGNED)"

    def row_hash_hex(self, text: str, digits: int) -> str:
        return f"SUBSTRING(MD5({text}), 1, {int(digits)})"

    def joined(self, key: str, entry: str) -> str:
        # The session raises group_concat_max_len (mysql.py): the default cuts at 1 MB.
        return f"GROUP_CONCAT(CONCAT({key}, {entry}) SEPARATOR x'1e')"

    def hashed(self, column: str, kind: str) -> str:
        v = f"TRIM(BOTH ' ' FROM {self.text(column)})"
        if kind == "email":
            v = f"LOWER({v})"
        elif kind == "id_number":
            v = f"UPPER({v})"
        elif kind == "phone":
            d = f"REGEXP_REPLACE({self.text(column)}, '[^0-9]', '')"
            v = (f"(CASE WHEN CHAR_LENGTH({d}) = 13 AND LEFT({d}, 2) = '86' "
                 f"THEN SUBSTRING({d}, 3) "
                 f"WHEN CHAR_LENGTH({d}) = 15 AND LEFT({d}, 4) = '0086' THEN SUBSTRING({d}, 5) "
                 f"ELSE {d} END)")
        return f"SHA2(CONCAT(@ow_hash_salt, NULLIF({v}, '')), 256)"

    def random(self) -> str:
        return "RAND()"


class SqliteDialect(Dialect):
    """SQLite: BINARY collation; no MD5, so no checksum mode (streamed instead)."""

    name = "sqlite"
    param = "?"
    mod = "%"

    def concat(self, exprs: Sequence[str]) -> str:
        return " || char(31) || ".join(f"coalesce({e}, char(30))" for e in exprs)

    def changed_since(self, column: str) -> str:
        # SQLite keeps timestamps as text: compared as text, 'T' vs ' ' and zone offsets
        # decide instead of the time.  julianday() reads ISO text with or without a zone;
        # text it cannot read counts as changed, as in the file sources.
        return (f"(julianday({column}) >= julianday({self.param}) OR "
                f"(julianday({column}) IS NULL AND {column} IS NOT NULL))")

    def moment(self, at: datetime) -> object:
        return _utc(at).isoformat()

    def hashed(self, column: str, kind: str) -> str:
        # ow_hash is a Python function registered on the connection: SQLite is in-process.
        return f"ow_hash('{kind}', {self.text(column)})"
