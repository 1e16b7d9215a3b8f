"""``omniwatch consistency check --dataset``: selecting datasets, output naming them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.procs import run_omniwatch as omniwatch


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _write(tmp_path: Path) -> Path:
    people = [["C001", "Zhang San"], ["C002", "Li Si"]]
    _csv(tmp_path / "branch_customers.csv", ["customer_id", "name"], people)
    _csv(tmp_path / "app_customers.csv", ["customer_id", "name"], people)
    accounts = [["C001", "A1", "active"], ["C001", "A2", "active"], ["C002", "A1", "active"]]
    _csv(tmp_path / "branch_accounts.csv", ["customer_id", "account_no", "status"], accounts)
    _csv(tmp_path / "app_accounts.csv", ["customer_id", "account_no", "status"],
         [*accounts[:2], ["C002", "A1", "frozen"]])
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text("""
store: {sqlite: history.db}
consistency:
  objective: 99%
  datasets:
    customers:
      reference: branch
      fields: [name]
      sources:
        branch: {kind: csv, path: branch_customers.csv}
        app: {kind: csv, path: app_customers.csv}
    accounts:
      reference: branch
      key: [customer_id, account_no]
      fields: [status]
      sources:
        branch: {kind: csv, path: branch_accounts.csv}
        app: {kind: csv, path: app_accounts.csv}
""")
    return cfg


def test_every_dataset_by_default_and_named_in_the_output(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--no-history")
    assert out.returncode == 1  # accounts is below its objective
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["DATASET", "CHANNEL"]
    rows = {tuple(x.split()[:2]): x for x in lines[1:3]}
    assert rows["customers", "app"].endswith("OK")
    assert "66.667%" in rows["accounts", "app"]
    assert "accounts/app: fields that differ: status (1)" in out.stdout


def test_dataset_selects_and_json_names_it(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--dataset", "customers",
                    "--json", "--no-history")
    assert out.returncode == 0
    (report,) = json.loads(out.stdout)["reports"]
    assert (report["dataset"], report["channel"], report["ratio"]) == ("customers", "app", 1.0)
    both = omniwatch("consistency", "check", "-c", str(cfg), "--dataset", "customers",
                     "--dataset", "accounts", "--json", "--no-history")
    assert [r["dataset"] for r in json.loads(both.stdout)["reports"]] == [
        "customers", "accounts"]


def test_unknown_dataset_or_channel(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    out = omniwatch("consistency", "check", "-c", str(cfg), "--dataset", "loans")
    assert out.returncode == 2
    assert "unknown dataset 'loans' (datasets: customers, accounts)" in out.stderr
    out = omniwatch("consistency", "check", "-c", str(cfg), "--channel", "branch")
    assert out.returncode == 2
    assert "'branch' is the reference" in out.stderr


def test_history_by_dataset(tmp_path: Path) -> None:
    cfg = _write(tmp_path)
    assert omniwatch("consistency", "check", "-c", str(cfg)).returncode == 1
    out = omniwatch("consistency", "history", "-c", str(cfg), "--dataset", "accounts",
                    "--json")
    assert out.returncode == 0
    runs = json.loads(out.stdout)["runs"]
    assert [(r["dataset"], r["channel"], r["judged"]) for r in runs] == [("accounts", "app", 3)]
    table = omniwatch("consistency", "history", "-c", str(cfg)).stdout.splitlines()
    assert table[0].split()[:3] == ["STARTED", "DATASET", "CHANNEL"]
    assert sorted(x.split()[2] for x in table[1:]) == ["accounts", "customers"]
