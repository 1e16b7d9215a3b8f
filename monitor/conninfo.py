"""libpq connection strings parsed the way libpq parses them, in pure Python.

PostgreSQL DSNs are checked when a configuration is loaded.  libpq's own parser is only
reachable through psycopg, whose import costs more than everything else
``omniwatch config validate`` does; this module follows libpq's grammar
(``conninfo_parse`` and ``conninfo_uri_parse`` in ``fe-connect.c``), and
``tests/test_conninfo.py`` checks it against libpq, case by case and by keyword list.

Both forms are read: ``key=value`` pairs (values unquoted up to white space or in single
quotes, ``\\`` escaping the next character) and ``postgresql://`` / ``postgres://`` URIs
(percent-decoded; several ``host:port`` pairs separated by commas; ``[::1]`` for IPv6).
A problem raises :class:`ConninfoError`, whose text never quotes the string.
"""

from __future__ import annotations

from typing import Final

# libpq's connection keywords (PQconndefaults); the test keeps this equal to the
# libpq that psycopg loads, so a keyword libpq refuses is refused at load time too.
KEYWORDS: Final = frozenset({
    "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
    "fallback_application_name", "gssdelegation", "gssencmode", "gsslib", "host",
    "hostaddr", "keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval",
    "krbsrvname", "load_balance_hosts", "max_protocol_version", "min_protocol_version",
    "oauth_client_id", "oauth_client_secret", "oauth_issuer", "oauth_scope", "options",
    "passfile", "password", "port", "replication", "require_auth", "requirepeer",
    "scram_client_key", "scram_server_key", "service", "ssl_max_protocol_version",
    "ssl_min_protocol_version", "sslcert", "sslcertmode", "sslcompression", "sslcrl",
    "sslcrldir", "sslkey", "sslkeylogfile", "sslmode", "sslnegotiation", "sslpassword",
    "sslrootcert", "sslsni", "target_session_attrs", "tcp_user_timeout", "user",
})
URI_PREFIXES: Final = ("postgresql://", "postgres://")
_SPACE: Final = " \t\n\r\f\v"  # C's isspace(), as libpq uses it


class ConninfoError(ValueError):
    """A connection string libpq would refuse; ``kind`` says why, naming no part of it:
    ``missing_equals``, ``unterminated_quote``, ``unknown_keyword``, ``bad_percent``,
    ``bad_host`` (a bad ``[...]``), ``space_in_uri``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(kind)


def parse_conninfo(text: str) -> dict[str, str]:
    """The parameters of a libpq connection string, as libpq reads them."""
    if text.startswith(URI_PREFIXES):
        return _uri(text)
    return _pairs(text)


def _pairs(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _SPACE:
            i += 1
        if i >= n:
            return out
        start = i
        while i < n and s[i] != "=" and s[i] not in _SPACE:
            i += 1
        key = s[start:i]
        while i < n and s[i] in _SPACE:
            i += 1
        if i >= n or s[i] != "=":
            raise ConninfoError("missing_equals")
        i += 1
        while i < n and s[i] in _SPACE:
            i += 1
        value: list[str] = []
        if i < n and s[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ConninfoError("unterminated_quote")
                if s[i] == "\\":  # escapes the next character; a last one is dropped
                    value.append(s[i + 1:i + 2])
                    i += 2
                elif s[i] == "'":
                    i += 1
                    break
                else:
                    value.append(s[i])
                    i += 1
        else:
            while i < n and s[i] not in _SPACE:
                if s[i] == "\\":
                    value.append(s[i + 1:i + 2])
                    i += 2
                else:
                    value.append(s[i])
                    i += 1
        _store(out, key, "".join(value))


def _store(out: dict[str, str], key: str, value: str) -> None:
    if key not in KEYWORDS:
        raise ConninfoError("unknown_keyword")
    out[key] = value


def _decode(part: str) -> str:
    # libpq (17 and later) drops white space around a URI component and refuses it inside.
    part = part.strip(_SPACE)
    if any(c in _SPACE for c in part):
        raise ConninfoError("space_in_uri")
    if "%" not in part:
        return part
    raw = bytearray()
    i = 0
    while i < len(part):
        if part[i] == "%":
            digits = part[i + 1:i + 3]
            if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits) \
                    or digits == "00":
                raise ConninfoError("bad_percent")
            raw.append(int(digits, 16))
            i += 3
        else:
            raw += part[i].encode()
            i += 1
    return raw.decode("utf-8", errors="surrogateescape")


def _uri(s: str) -> dict[str, str]:
    out: dict[str, str] = {}
    rest = s.split("://", 1)[1]
    # Credentials end at the first '@' before any '/', as libpq looks for them.
    head = rest.split("/", 1)[0]
    if "@" in head:
        userinfo, rest = rest.split("@", 1)
        user, colon, password = userinfo.partition(":")
        if user:
            out["user"] = _decode(user)
        if colon and password:
            out["password"] = _decode(password)
    hosts: list[str] = []
    ports: list[str] = []
    i, n = 0, len(rest)
    while True:
        if i < n and rest[i] == "[":
            end = rest.find("]", i)
            if end <= i + 1 or (end + 1 < n and rest[end + 1] not in ":/?,"):
                raise ConninfoError("bad_host")  # unclosed, empty, or junk after ']'
            host, i = rest[i + 1:end], end + 1
        else:
            start = i
            while i < n and rest[i] not in ":/?,":
                i += 1
            host = rest[start:i]
        port = ""
        if i < n and rest[i] == ":":
            start = i = i + 1
            while i < n and rest[i] not in "/?,":
                i += 1
            port = rest[start:i]
        hosts.append(host)
        ports.append(port)
        if i < n and rest[i] == ",":
            i += 1
            continue
        break
    # As libpq joins them, then decodes the joined text: "h1,h2" and "1,2"; "h," has the
    # port ",".
    if ",".join(hosts):
        out["host"] = _decode(",".join(hosts))
    if ",".join(ports):
        out["port"] = _decode(",".join(ports))
    rest = rest[i:]
    query = ""
    if rest.startswith("/"):
        dbname, _, query = rest[1:].partition("?")
        if dbname:
            out["dbname"] = _decode(dbname)
    elif rest.startswith("?"):
        query = rest[1:]
    if query:
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            if not eq:
                raise ConninfoError("missing_equals")
            key, value = _decode(key), _decode(value)
            if key == "ssl" and value == "true":  # libpq's JDBC-compatible spelling
                key, value = "sslmode", "require"
            _store(out, key, value)
    return out
