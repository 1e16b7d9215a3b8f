"""deploy/grafana/dashboards/omniwatch.json: valid, every template variable defined, every
PromQL expression parsed by promtool, and every metric it names one omniwatch exports (or
a recording rule of the committed rules).  The e2e test runs each against Prometheus."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.files import (
    GRAFANA_BUILTINS,
    ROOT,
    RULES,
    dashboard,
    panel_queries,
    template_names,
)
from tests.support import require

# What a family's samples are called besides its name.
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")
_METRIC = re.compile(r"\b(omniwatch[_:][a-z0-9_:]+)")
# For a static parse any value of the right kind will do.
STATIC_VALUES = {"channel": "app", "slo": "app", "dataset": "customers",
                 "__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def test_dashboard_shape() -> None:
    doc = dashboard()
    assert doc["uid"] == "omniwatch"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in doc["panels"] if p["type"] == "row"]
    assert titles == ["Availability", "Error budget", "Burn rates", "Probes", "Journeys",
                      "Consistency", "Alert delivery"]
    assert {"datasource", "channel", "slo", "dataset"} == template_names(doc)
    for p in doc["panels"]:
        if p["type"] != "row":
            assert p["targets"], p["title"]
            assert p["datasource"]["uid"] == "${datasource}"


def test_every_variable_is_defined() -> None:
    doc = dashboard()
    known = template_names(doc) | GRAFANA_BUILTINS
    for q in panel_queries(doc):
        assert q.variables() <= known, (q.panel, q.variables() - known)


def _family(sample: str) -> str:
    for suffix in _SUFFIXES:
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample


def test_every_metric_exists() -> None:
    source = "\n".join(p.read_text("utf-8") for p in (ROOT / "monitor").rglob("*.py"))
    docs = "\n".join(p.read_text("utf-8") for p in [ROOT / "README.md",
                                                     *(ROOT / "docs").glob("*.md")])
    records = {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"]
               for r in g["rules"] if "record" in r}
    for q in panel_queries(dashboard()):
        names = set(_METRIC.findall(q.expr))
        assert names or "ALERTS{" in q.expr, q.panel
        for name in names:
            if ":" in name:
                assert name in records, (q.panel, name)
                continue
            family = _family(name)
            # Exported by the code (as a family name) and documented for users.
            assert f'"{family}"' in source or f'"{name}"' in source, (q.panel, name)
            assert family in docs or name in docs, (q.panel, name)


@pytest.mark.prometheus
def test_promtool_parses_every_expression(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (Debian package prometheus)")
    assert promtool is not None
    queries = panel_queries(dashboard())
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": q.substituted(STATIC_VALUES)}
        for i, q in enumerate(queries)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout
