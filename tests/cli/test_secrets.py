"""Issue 8, "Secrets and customer data", through the real CLI and the real databases.

Each failure must say what failed and where (error class, SQLSTATE or errno, host, port,
database, user), in the CLI output, the JSON log lines and the stored
``consistency_runs.error``, and must never carry a password, a token or a customer's value.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.procs import run_omniwatch as omniwatch
from tests.support import require

NAME = "ang吴芳敏"  # a customer's name: must never leave the database
PG = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=3"




def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pg_names() -> Iterator[None]:
    try:
        conn = psycopg.connect(PG, autocommit=True)
    except psycopg.Error as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 is not available: {exc}")
        raise
    with conn:
        conn.execute("DROP TABLE IF EXISTS ow_secret_names")
        conn.execute("CREATE TABLE ow_secret_names (customer_id text, name text)")
        conn.execute("INSERT INTO ow_secret_names VALUES ('C001', %s)", [NAME])
        yield
        conn.execute("DROP TABLE IF EXISTS ow_secret_names")


def mariadb_up() -> None:
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3).close()
    except pymysql.Error as exc:
        require(False, f"MariaDB at 127.0.0.1:3306 is not available: {exc}")


def _config(tmp_path: Path, app: str, store: str = "{sqlite: history.db}") -> Path:
    ref = tmp_path / "branch.db"
    with sqlite3.connect(ref) as db:
        db.execute("CREATE TABLE customers (customer_id TEXT, name TEXT)")
        db.execute("INSERT INTO customers VALUES ('C001', ?)", [NAME])
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(f"""
store: {store}
channels: {{app: {{targets: []}}}}
consistency:
  reference: branch
  key: customer_id
  fields: [name]
  sources:
    branch: {{kind: sqlite, path: branch.db, table: customers}}
    app: {app}
""", encoding="utf-8")
    return cfg


def _check(cfg: Path) -> tuple[subprocess.CompletedProcess[str],
                               subprocess.CompletedProcess[str], list[dict[str, Any]], str]:
    """Run the check as a table and as JSON; return both, the log lines and the stored error."""
    table = omniwatch("consistency", "check", "--log-format", "json", "-c", str(cfg))
    as_json = omniwatch("consistency", "check", "-c", str(cfg), "--json", "--no-history")
    logs = [json.loads(line) for line in table.stderr.splitlines() if line.startswith("{")]
    with sqlite3.connect(cfg.parent / "history.db") as db:
        (stored,) = db.execute("SELECT error FROM consistency_runs").fetchone()
    return table, as_json, logs, stored


def _assert_everywhere(cfg: Path, present: list[str], absent: list[str]) -> str:
    table, as_json, logs, stored = _check(cfg)
    assert table.returncode == 1, table.stderr
    assert as_json.returncode == 1, as_json.stderr
    (report,) = json.loads(as_json.stdout)["reports"]
    (failed,) = [entry for entry in logs if entry["event"] == "consistency_check_failed"]
    for where, text in (("table", table.stdout), ("json", report["error"]),
                        ("log", failed["error"]), ("history", stored)):
        for part in present:
            assert part in text, (where, part, text)
        for part in absent:
            assert part not in text, (where, part, text)
    assert "Traceback" not in table.stderr + as_json.stderr
    return str(stored)


@pytest.mark.usefixtures("pg_names")
def test_postgres_query_error_names_the_class_not_the_value(tmp_path: Path) -> None:
    app = ("{kind: postgres, dsn: 'host=127.0.0.1 port=5432 dbname=test user=postgres "
           "password=S3cretPW', query: 'SELECT customer_id, (name::int)::text AS name "
           "FROM ow_secret_names'}")
    error = _assert_everywhere(
        _config(tmp_path, app),
        present=["source 'app': query: ", "InvalidTextRepresentation", "SQLSTATE 22P02",
                 "postgresql://postgres@127.0.0.1:5432/test"],
        absent=[NAME, "吴芳敏", "S3cretPW", "invalid input syntax"])
    assert error.startswith("source 'app': query: ")


def test_postgres_closed_port_names_host_port_user_database(tmp_path: Path) -> None:
    port = closed_port()
    app = (f"{{kind: postgres, dsn: 'postgresql://ow:S3cretPW@127.0.0.1:{port}/custdb', "
           "table: customers}")
    _assert_everywhere(
        _config(tmp_path, app),
        present=["source 'app': connect: ", "OperationalError",
                 f'connection to server at "127.0.0.1", port {port} failed: Connection refused',
                 f"postgresql://ow@127.0.0.1:{port}/custdb"],
        absent=["S3cretPW", '""'])


def test_mysql_wrong_password_names_errno_host_user(tmp_path: Path) -> None:
    mariadb_up()
    app = "{kind: mysql, dsn: 'mysql://root:Wr0ngPW@127.0.0.1:3306/test', table: customers}"
    _assert_everywhere(
        _config(tmp_path, app),
        present=["source 'app': connect: ", "OperationalError (1045 ACCESS_DENIED_ERROR)",
                 "mysql://root@127.0.0.1:3306/test"],
        absent=["Wr0ngPW", "'…'"])


def test_mysql_closed_port_names_the_address_and_the_socket_error(tmp_path: Path) -> None:
    port = closed_port()
    app = f"{{kind: mysql, dsn: 'mysql://ow:S3cretPW@127.0.0.1:{port}/shop', table: customers}}"
    _assert_everywhere(
        _config(tmp_path, app),
        present=["OperationalError (2003 CONN_HOST_ERROR): Connection refused",
                 f"mysql://ow@127.0.0.1:{port}/shop"],
        absent=["S3cretPW", "Can'"])


def test_mysql_query_error_keeps_no_driver_text(tmp_path: Path) -> None:
    mariadb_up()
    app = ("{kind: mysql, dsn: 'mysql://root@127.0.0.1:3306/test', query: \"SELECT "
           f"customer_id, name FROM ow_secret_nowhere WHERE name = '{NAME}'\"}}")
    _assert_everywhere(
        _config(tmp_path, app),
        present=["source 'app': query: ", "ProgrammingError (1146 NO_SUCH_TABLE)",
                 "mysql://root@127.0.0.1:3306/test"],
        absent=[NAME, "吴芳敏"])


@pytest.mark.parametrize("password", ["Pw9@Sx7/Kq3", "Pw9#Sx7@Kq3", "Pw9?Sx7@Kq3", "12/34@Kq3"])
def test_mysql_dsn_with_unencoded_specials_is_refused_by_its_path(tmp_path: Path,
                                                                   password: str) -> None:
    app = f"{{kind: mysql, dsn: 'mysql://root:{password}@127.0.0.1:3306/test', table: t}}"
    cfg = _config(tmp_path, app)
    out = omniwatch("config", "validate", str(cfg))
    assert out.returncode == 2
    # The file's own path is named, and pytest's temporary folders are numbered
    # (pytest-128): only the rest of the message must be free of the password.
    text = (out.stderr + out.stdout).replace(str(cfg), "FILE")
    assert "consistency.sources.app.dsn: " in text
    assert "%40" in text  # says how to fix it
    for fragment in ("Pw9", "Sx7", "Kq3", "12", "34"):
        assert fragment not in text


@pytest.mark.parametrize("dsn", ["host=127.0.0.1 dbname=test password=SECRET part9",
                                 "postgresql://ow:SECRET@part9@127.0.0.1/test",
                                 "host=127.0.0.1 password='SECRETpart9"])
def test_postgres_dsn_problems_are_reported_by_path_without_the_dsn(tmp_path: Path,
                                                                      dsn: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for cfg in (_config(tmp_path / "a", "{kind: csv, path: branch.db}",
                        store=f'{{postgres: "{dsn}"}}'),
                _config(tmp_path / "b", f'{{kind: postgres, dsn: "{dsn}", table: t}}')):
        out = omniwatch("config", "validate", str(cfg))
        text = out.stdout + out.stderr
        assert out.returncode == 2, text
        assert "not a PostgreSQL connection string" in text or "not a host name" in text
        assert "store.postgres: " in text or "consistency.sources.app.dsn: " in text
        assert "SECRET" not in text
        assert "part9" not in text


def test_store_unavailable_names_the_database_not_the_password(tmp_path: Path) -> None:
    port = closed_port()
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(f"""
store: {{postgres: "host=127.0.0.1 port={port} dbname=hist user=ow password=SECRETpart9"}}
channels: {{app: {{targets: [{{name: a, probe: tcp, host: 127.0.0.1, port: {port}}}]}}}}
""")
    out = omniwatch("slo", "--log-format", "json", "-c", str(cfg))
    assert out.returncode == 1
    assert "SECRETpart9" not in out.stdout + out.stderr
    assert "store.postgres" in out.stderr
    assert f"postgresql://ow@127.0.0.1:{port}/hist" in out.stderr
    assert "Connection refused" in out.stderr


def test_probe_never_prints_url_credentials(tmp_path: Path) -> None:
    port = closed_port()
    url = f"http://alice:T0kenXYZ@127.0.0.1:{port}/health"
    table = omniwatch("probe", url)
    as_json = omniwatch("probe", "--json", url)
    assert table.returncode == 1
    assert as_json.returncode == 1
    assert f"127.0.0.1:{port}" in table.stdout
    (row,) = json.loads(as_json.stdout)["targets"]
    assert row["target"] == f"127.0.0.1:{port}"
    assert row["message"] == f"connection to 127.0.0.1:{port} refused"
    for out in (table, as_json):
        assert "T0kenXYZ" not in out.stdout + out.stderr
        assert "alice" not in out.stdout + out.stderr
    bad = omniwatch("probe", "ftp://alice:T0kenXYZ@127.0.0.1/")
    assert bad.returncode == 2
    assert "T0kenXYZ" not in bad.stderr


def test_config_errors_never_echo_url_credentials(tmp_path: Path) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("""
channels: {app: {targets: [{name: a, probe: http, url: "ftp://alice:T0kenXYZ@host/x"}]}}
""")
    out = omniwatch("config", "validate", str(cfg))
    assert out.returncode == 2
    assert "is not an http(s) URL" in out.stdout + out.stderr
    assert "T0kenXYZ" not in out.stdout + out.stderr
