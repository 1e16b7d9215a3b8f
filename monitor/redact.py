"""What may be shown of a connection string or a URL: never its password or token.

A DSN is parsed by a real parser (libpq's grammar, :mod:`monitor.conninfo`, checked
against libpq by its tests, for PostgreSQL; :func:`urllib.parse.urlsplit` for MySQL URLs)
*before* it is used, so no driver ever gets
the chance to quote a fragment of a malformed one back in an error.  What a message may
name is :class:`DsnFacts`: user, host, port and database, which are not secrets and are
what an on-call engineer needs to find the database.

Pure and dependency-free (psycopg is never imported to parse: ``config validate`` must
not pay a third of a second for it), so the config, the store, the consistency sources
and the probes can all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from monitor.conninfo import ConninfoError, parse_conninfo

if TYPE_CHECKING:
    import psycopg

_ENCODE_HINT = ("percent-encode special characters in the user and password "
                "('@' as %40, '/' as %2F, '#' as %23, '?' as %3F, ':' as %3A, '%' as %25)")
_PORT_PROBLEM = ("the port is not a number from 1 to 65535 (if it is part of a password: "
                 f"{_ENCODE_HINT})")


class DsnError(ValueError):
    """A DSN that cannot be parsed; ``str()`` never contains any part of the DSN."""


@dataclass(frozen=True, slots=True)
class DsnFacts:
    """The parts of a DSN that may be shown: ``user@host:port/database``."""

    scheme: str
    host: str | None
    port: str | None
    database: str | None
    user: str | None

    def __str__(self) -> str:
        host = self.host or "(default host)"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        db = f"/{self.database}" if self.database else ""
        return f"{self.scheme}://{user}{host}{port}{db}"


def _check_port(port: str | None) -> None:
    if port is None or port == "":
        return
    for one in port.split(","):  # libpq accepts one port per host
        if not one.isdigit() or not 0 < int(one) <= 65535:
            raise DsnError(_PORT_PROBLEM)


def postgres_facts(dsn: str) -> DsnFacts:
    """The showable parts of a libpq connection string (URL or ``key=value`` form).

    Raises :class:`DsnError` with a message naming no part of ``dsn``.
    """
    try:
        params = parse_conninfo(dsn)
    except ConninfoError as exc:
        # Only the kind of problem is told, in words of our own: libpq's message would
        # quote the offending fragment, often a piece of the password.
        raise DsnError(_postgres_parse_problem(exc.kind)) from None
    host = params.get("host") or params.get("hostaddr")
    if host is not None and any(c in str(host) for c in "@/?#") and not str(host).startswith("/"):
        raise DsnError(f"the host is not a host name (if it is part of a password: "
                       f"{_ENCODE_HINT})")
    port = params.get("port")
    _check_port(None if port is None else str(port))
    return DsnFacts("postgresql", None if host is None else str(host),
                    None if port is None else str(port),
                    _opt(params.get("dbname")), _opt(params.get("user")))


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _postgres_parse_problem(kind: str) -> str:
    if kind == "missing_equals":
        return ("not a PostgreSQL connection string: expected key=value pairs (a value with "
                "spaces must be in single quotes: password='two words') or "
                "postgresql://user:password@host:5432/database")
    if kind == "unterminated_quote":
        return "not a PostgreSQL connection string: a quoted value is not closed"
    if kind == "unknown_keyword":
        return ("not a PostgreSQL connection string: an unknown key (see libpq's "
                "connection parameters; a value with spaces must be in single quotes)")
    return f"not a PostgreSQL connection string (URL form: {_ENCODE_HINT})"


def postgres_error(exc: psycopg.Error, dsn: str | None) -> str:
    """What failed and where, without any value the database holds or the password.

    A server error about the statement can quote a row's values (``invalid input syntax
    for type integer: "..."``), so of those only the error class, the SQLSTATE and the
    identifiers the server reports apart (table, column, constraint) are kept.  Errors
    raised by libpq itself (no SQLSTATE: cannot connect, authentication, connection
    lost) carry no row data, and cannot quote the DSN since it was parsed beforehand:
    their first line is kept, as it says why.
    """
    try:
        where = str(postgres_facts(dsn or ""))
    except DsnError as bad:
        return f"the DSN: {bad}"  # libpq's own text would quote a piece of it
    name = type(exc).__name__
    state = exc.sqlstate
    if state is None:
        lines = str(exc).strip().splitlines()
        text = lines[0].removeprefix("connection failed: ") if lines else ""
        return f"{name}: {text} ({where})" if text else f"{name} ({where})"
    diag = exc.diag
    names = [f"{label} {value}" for label, value in (
        ("schema", diag.schema_name), ("table", diag.table_name),
        ("column", diag.column_name), ("type", diag.datatype_name),
        ("constraint", diag.constraint_name)) if value]
    return f"{name} (SQLSTATE {', '.join([state, *names])}) on {where}"


def mysql_connect_args(dsn: str) -> dict[str, Any]:
    """PyMySQL keyword arguments from ``mysql://user:password@host:port/database``.

    Raises :class:`DsnError` (naming no part of ``dsn``) when the URL does not parse into
    exactly those parts: a password with an unencoded ``/``, ``#`` or ``?`` would
    otherwise silently move part of itself into the host, the port or the database.
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb"):
        raise DsnError("must be a URL like mysql://user:password@host:3306/database")
    try:
        port = parts.port
    except ValueError:
        raise DsnError(_PORT_PROBLEM) from None
    database = parts.path.lstrip("/")
    if not parts.hostname or parts.query or parts.fragment or "/" in database \
            or "@" in database or "#" in dsn:
        raise DsnError("must be a URL like mysql://user:password@host:3306/database; "
                       + _ENCODE_HINT)
    args: dict[str, Any] = {
        "host": parts.hostname, "port": port or 3306,
        "user": unquote(parts.username or "root"), "password": unquote(parts.password or ""),
    }
    if database:
        args["database"] = unquote(database)
    return args


def mysql_facts(dsn: str) -> DsnFacts:
    """The showable parts of a MySQL URL; raises :class:`DsnError` as the parser does."""
    args = mysql_connect_args(dsn)
    return DsnFacts("mysql", args["host"], str(args["port"]), args.get("database"),
                    args["user"])


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (and unchanged when it has none).

    For every place a URL is shown or logged: user-info is a credential.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def netloc_without_userinfo(url: str) -> str:
    """``host:port`` of ``url``, without user-info (a display name for an ad-hoc URL)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    return netloc.rpartition("@")[2]
