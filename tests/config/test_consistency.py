"""build_consistency: a full valid section, and one exact message per invalid one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.config import ConfigError
from monitor.config.consistency import build_consistency
from monitor.consistency.model import FieldRule


def build(raw: Any, base: Path | None = None) -> Any:
    return build_consistency(raw, "omniwatch.yaml", base)


def problems(raw: Any, base: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build(raw, base)
    return [str(p) for p in info.value.problems]


def test_design_example(tmp_path: Path) -> None:
    (tmp_path / "web.db").touch()
    (tmp_path / "mini_export.csv").touch()
    cfg = build({
        "objective": "99%", "reference": "branch", "key": "customer_id",
        "fields": ["name", "phone", "id_number", "risk_level"], "grace": "10m",
        "hash_fields": ["id_number"], "hash_salt": "pepper-123",
        "schedule": {"interval": "1h", "mode": "checksum"},
        "normalisers": {"name": "text"},
        "sources": {
            "app": {"kind": "mysql", "dsn": "mysql://u:p@db:3306/app",
                    "query": "SELECT cust_no AS customer_id, name FROM c"},
            "branch": {"kind": "postgres", "dsn": "postgresql://u@db/branch",
                       "table": "core.customers", "updated_at": "updated_at",
                       "columns": {"customer_id": "cust_id"}, "timeout": "30s"},
            "website": {"kind": "sqlite", "path": "web.db", "table": "customer"},
            "miniprogram": {"kind": "csv", "path": "mini_export.csv"},
            "api": {"kind": "http", "url": "https://api.example/customers",
                    "pagination": {"style": "cursor", "items_path": "data"}},
        },
    }, tmp_path)
    assert cfg.objective == 0.99
    assert cfg.grace_seconds == 600
    assert cfg.sources[0].name == "branch"  # the reference comes first
    assert cfg.channels == ("app", "website", "miniprogram", "api")
    assert cfg.mode == "full"
    assert cfg.schedule_mode == "checksum"
    assert cfg.interval_seconds == 3600
    assert cfg.fields[1] == FieldRule("phone", "phone")
    assert cfg.fields[2] == FieldRule("id_number", "id_number", hashed=True)
    assert cfg.fields[3].kind == "enum"
    assert ("R3", "3") in cfg.fields[3].mapping
    branch = cfg.source("branch")
    assert branch.column("customer_id") == "cust_id"
    assert branch.column("name") == "name"
    assert branch.timeout_seconds == 30
    assert cfg.source("website").path == str(tmp_path / "web.db")
    assert cfg.source("api").pagination.style == "cursor"


def test_defaults() -> None:
    cfg = build({"reference": "a", "sources": {"a": {"kind": "http", "url": "http://x/"},
                                               "b": {"kind": "http", "url": "http://x/"}},
                 "normalisers": {"risk_level": {"kind": "enum", "map": {"LOW": 1}}},
                 "fields": ["risk_level", "balance", "opened_on"]})
    assert cfg.key == ("customer_id",)
    assert cfg.workers == 1
    assert cfg.fields[0].mapping == (("LOW", "1"),)
    assert cfg.fields[1].kind == "number"
    assert cfg.fields[2].kind == "date"
    assert cfg.objective == 0.99


def test_tolerance() -> None:
    cfg = build({"reference": "a", "fields": ["balance"],
                 "normalisers": {"balance": {"kind": "number", "tolerance": 0.01}},
                 "sources": {"a": {"kind": "http", "url": "http://x/"},
                             "b": {"kind": "http", "url": "http://x/"}}})
    assert cfg.fields[0].tolerance == Decimal("0.01")


SOURCES = {"a": {"kind": "http", "url": "http://x/"}, "b": {"kind": "http", "url": "http://x/"}}


@pytest.mark.parametrize(("raw", "expected"), [
    ({"reference": "a", "sources": SOURCES, "colour": 1},
     "omniwatch.yaml: consistency: unknown key 'colour'"),
    ({"sources": SOURCES}, "omniwatch.yaml: consistency: missing required key 'reference'"),
    ({"reference": "z", "sources": SOURCES},
     "omniwatch.yaml: consistency.reference: 'z' is not one of the sources"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "oracle"}}},
     "omniwatch.yaml: consistency.sources.c.kind: must be one of 'postgres', 'mysql', "
     "'sqlite', 'csv', 'jsonl', 'http'"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "postgres", "table": "t"}}},
     "omniwatch.yaml: consistency.sources.c.dsn: kind 'postgres' needs 'dsn'"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "postgres", "dsn": "x=1"}}},
     "omniwatch.yaml: consistency.sources.c: give exactly one of 'table' or 'query'"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "mysql", "dsn": "host=db",
                                                     "table": "t"}}},
     "omniwatch.yaml: consistency.sources.c.dsn: must be a URL like "
     "mysql://user:password@host:3306/database"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "postgres", "dsn": "x=1",
                                                     "table": "t; DROP TABLE x"}}},
     "omniwatch.yaml: consistency.sources.c.table: 't; DROP TABLE x' does not match "
     "'^[A-Za-z_][A-Za-z0-9_$]*(\\\\.[A-Za-z_][A-Za-z0-9_$]*)?$'"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "csv", "path": "nope.csv"}}},
     "omniwatch.yaml: consistency.sources.c.path: file 'nope.csv' does not exist"),
    ({"reference": "a", "sources": {**SOURCES, "c": {"kind": "csv", "path": "x", "url": "http://y"}}},
     "omniwatch.yaml: consistency.sources.c.url: 'url' does not apply to kind 'csv'"),
    ({"reference": "a", "sources": {"a": {"kind": "http", "url": "http://x/",
                                          "key_order": "native"}, "b": SOURCES["b"]}},
     "omniwatch.yaml: consistency.sources.a.key_order: 'key_order' applies only to SQL sources"),
    ({"reference": "a", "sources": {"a": {"kind": "http", "url": "http://x/",
                                          "columns": {"colour": "c"}}, "b": SOURCES["b"]}},
     "omniwatch.yaml: consistency.sources.a.columns.colour: 'colour' is neither a key nor a "
     "compared field"),
    ({"reference": "a", "sources": SOURCES, "hash_fields": ["phone"]},
     "omniwatch.yaml: consistency.hash_salt: 'hash_fields' needs a 'hash_salt'"),
    ({"reference": "a", "sources": SOURCES, "hash_fields": ["email"], "hash_salt": "12345678"},
     "omniwatch.yaml: consistency.hash_fields: 'email' is not a compared field"),
    ({"reference": "a", "sources": SOURCES, "normalisers": {"name": {"kind": "text",
                                                                     "tolerance": 1}}},
     "omniwatch.yaml: consistency.normalisers.name.tolerance: 'tolerance' applies only to "
     "kind 'number'"),
    ({"reference": "a", "sources": SOURCES, "fields": ["nickname"],
      "normalisers": {"nickname": "enum"}},
     "omniwatch.yaml: consistency.normalisers.nickname: kind 'enum' needs a 'map'"),
    ({"reference": "a", "sources": SOURCES, "normalisers": {"email": "email"}},
     "omniwatch.yaml: consistency.normalisers.email: 'email' is not a compared field"),
    ({"reference": "a", "sources": SOURCES, "key": "cust_no"},
     "omniwatch.yaml: consistency.key: the customer schema requires 'customer_id': use it as "
     "the key or compare it"),
    ({"reference": "a", "sources": SOURCES, "fields": ["customer_id", "name"]},
     "omniwatch.yaml: consistency.fields: 'customer_id' is the key; it cannot also be a "
     "compared field"),
    ({"reference": "a", "sources": SOURCES, "grace": "ten minutes"},
     "omniwatch.yaml: consistency.grace: not valid: A duration such as 500ms, 30s, 5m, "
     "1h30m, 7d; a bare number is seconds."),
    ({"reference": "a", "sources": SOURCES, "mode": "fast"},
     "omniwatch.yaml: consistency.mode: must be one of 'full', 'checksum', 'sample'"),
    ({"reference": "a", "sources": {"a": SOURCES["a"]}},
     "omniwatch.yaml: consistency.sources: needs the reference and at least one channel"),
    ({"reference": "a", "sources": SOURCES, "hash_salt": "secret"},
     "omniwatch.yaml: consistency.hash_salt: the value is too short"),
])
def test_invalid(raw: Any, expected: str, tmp_path: Path) -> None:
    (tmp_path / "x").touch()
    got = problems(raw, tmp_path)
    assert expected in got, got


def test_objective_uses_the_shared_parser() -> None:
    got = problems({"reference": "a", "sources": SOURCES, "objective": "100%"})
    assert len(got) == 1
    assert got[0].startswith("omniwatch.yaml: consistency.objective: ")
    assert "100%" in got[0]


def test_every_problem_is_reported_at_once() -> None:
    got = problems({"reference": "z", "sources": {
        "a": {"kind": "postgres"}, "b": {"kind": "mysql", "dsn": "nope", "table": "t"}}})
    assert len(got) == 4, got
