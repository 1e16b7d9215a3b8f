"""build_datasets: the multi-dataset form, its defaults, incremental schedules, exact paths."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config import ConfigError
from monitor.config.consistency import build_consistency, build_datasets

HTTP = {"kind": "http", "url": "http://x/"}


def problems(raw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build_datasets(raw, "omniwatch.yaml")
    return [str(p) for p in info.value.problems]


def two(**top: Any) -> dict[str, Any]:
    return {**top, "datasets": {
        "customers": {"reference": "branch", "fields": ["name", "phone"],
                      "sources": {"branch": HTTP, "app": HTTP}},
        "accounts": {"reference": "branch", "key": ["customer_id", "account_no"],
                     "fields": ["status", "currency"], "objective": "99.9%",
                     "schedule": {"interval": "5m"},
                     "sources": {"branch": HTTP, "app": HTTP, "web": HTTP}},
    }}


def test_two_datasets_with_defaults() -> None:
    customers, accounts = build_datasets(two(objective="98%", grace="1m",
                                             schedule={"interval": "10m", "mode": "checksum"}))
    assert (customers.dataset, accounts.dataset) == ("customers", "accounts")
    assert customers.objective == 0.98
    assert accounts.objective == 0.999  # its own beats the default
    assert accounts.key == ("customer_id", "account_no")
    assert accounts.channels == ("app", "web")
    assert accounts.grace_seconds == customers.grace_seconds == 60
    assert customers.interval_seconds == 600
    # schedule is merged one level deep: the default mode stays under its own interval
    assert (accounts.interval_seconds, accounts.schedule_mode) == (300, "checksum")


def test_the_single_form_is_the_dataset_customers() -> None:
    raw = {"reference": "a", "sources": {"a": HTTP, "b": HTTP}}
    (only,) = build_datasets(raw)
    assert only.dataset == "customers"
    assert build_consistency(raw) == only
    with pytest.raises(ValueError, match="2 datasets"):
        build_consistency(two())


def test_incremental_schedule() -> None:
    src = {**HTTP, "updated_at": "changed"}
    (cfg,) = build_datasets({"reference": "a", "mode": "checksum",
                             "schedule": {"interval": "1m", "mode": "incremental"},
                             "sources": {"a": src, "b": src}})
    assert (cfg.schedule_mode, cfg.mode, cfg.full_every_seconds) == (
        "incremental", "checksum", 86400)
    (cfg,) = build_datasets({"reference": "a", "sources": {"a": src, "b": src},
                             "schedule": {"mode": "incremental", "full_every": "2h"}})
    assert cfg.full_every_seconds == 7200
    assert cfg.mode == "full"


def test_incremental_needs_updated_at_everywhere() -> None:
    raw = two(schedule={"mode": "incremental"})
    raw["datasets"]["accounts"]["sources"]["branch"] = {**HTTP, "updated_at": "u"}
    assert problems(raw) == [
        "omniwatch.yaml: consistency.datasets.accounts.sources.app.updated_at: schedule "
        "mode 'incremental' needs 'updated_at' on every source",
        "omniwatch.yaml: consistency.datasets.accounts.sources.web.updated_at: schedule "
        "mode 'incremental' needs 'updated_at' on every source",
        "omniwatch.yaml: consistency.datasets.customers.sources.app.updated_at: schedule "
        "mode 'incremental' needs 'updated_at' on every source",
        "omniwatch.yaml: consistency.datasets.customers.sources.branch.updated_at: schedule "
        "mode 'incremental' needs 'updated_at' on every source",
    ]


def test_incremental_whole_runs_and_full_every() -> None:
    src = {**HTTP, "updated_at": "u"}
    assert problems({"reference": "a", "mode": "sample", "schedule": {"mode": "incremental"},
                     "sources": {"a": src, "b": src}}) == [
        "omniwatch.yaml: consistency.mode: an incremental schedule's whole runs need mode "
        "'full' or 'checksum'"]
    assert problems({"reference": "a", "schedule": {"full_every": "1h"},
                     "sources": {"a": src, "b": src}}) == [
        "omniwatch.yaml: consistency.schedule.full_every: 'full_every' applies only to "
        "schedule mode 'incremental'"]


def test_errors_keep_exact_paths() -> None:
    raw = two()
    raw["datasets"]["accounts"]["sources"]["app"] = {"kind": "mysql", "dsn": "nope://x",
                                                      "table": "t"}
    raw["datasets"]["accounts"]["fields"] = ["status", "customer_id"]
    got = problems(raw)
    assert "omniwatch.yaml: consistency.datasets.accounts.fields: 'customer_id' is the key; " \
           "it cannot also be a compared field" in got
    assert any(p.startswith("omniwatch.yaml: consistency.datasets.accounts.sources.app.dsn: ")
               for p in got)
    assert len(got) == 2


def test_a_bad_default_is_reported_once_where_it_was_written() -> None:
    assert problems(two(objective="150%", grace="1m")) == [
        "omniwatch.yaml: consistency.objective: '150%' is not an objective: it must lie "
        "strictly between 0% and 100%"]


def test_shape_errors_in_the_datasets_form() -> None:
    raw = two(reference="branch")
    raw["datasets"]["accounts"]["surprise"] = 1
    raw["datasets"]["customers"].pop("sources")
    assert problems(raw) == [
        "omniwatch.yaml: consistency.datasets.accounts: unknown key 'surprise'",
        "omniwatch.yaml: consistency.datasets.customers: missing required key 'sources'",
        "omniwatch.yaml: consistency.reference: 'reference' belongs in each dataset "
        "(consistency.datasets.NAME.reference)",
    ]
    assert problems({"datasets": {}}) == [
        "omniwatch.yaml: consistency.datasets: {} should be non-empty"]
    bad = two()
    bad["datasets"]["all"] = bad["datasets"].pop("accounts")
    assert problems(bad) == [
        "omniwatch.yaml: consistency.datasets.all: 'all' is reserved for the overall ratio; "
        "choose another name"]
