"""Where deploy/ keeps what, and the small readers the deploy tests share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "omniwatch.json"
RULES = DEPLOY / "prometheus" / "omniwatch-rules.yml"
K8S = DEPLOY / "kubernetes"

# Grafana's own variables a panel may use besides the dashboard's templating list.
GRAFANA_BUILTINS = frozenset({"__rate_interval", "__interval", "__range"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class PanelQuery:
    """One PromQL query of a dashboard panel."""

    panel: str
    ref: str
    expr: str

    def substituted(self, values: Mapping[str, str]) -> str:
        """The expression with each ``$name`` / ``${name}`` replaced; KeyError names an
        unknown one."""
        return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], self.expr)

    def variables(self) -> set[str]:
        """The template variables the expression uses."""
        return {m.group(1) or m.group(2) for m in _VARIABLE.finditer(self.expr)}


def dashboard() -> dict[str, Any]:
    """The committed Grafana dashboard."""
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    return doc


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))  # rows may hold collapsed panels


def panel_queries(doc: Mapping[str, Any]) -> list[PanelQuery]:
    """Every PromQL expression of every panel, rows included."""
    return [PanelQuery(p["title"], t["refId"], t["expr"])
            for p in _panels(doc["panels"]) for t in p.get("targets", [])]


def template_names(doc: Mapping[str, Any]) -> set[str]:
    """The names of the dashboard's template variables."""
    return {v["name"] for v in doc["templating"]["list"]}


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of one manifest file (empty ones dropped)."""
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]


def env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of an env file, comments and blank lines skipped."""
    out = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value
    return out


def env_references(config_text: str) -> set[str]:
    """The ``${NAME}`` variables an omniwatch config uses (comment lines aside)."""
    lines = (line for line in config_text.splitlines() if not line.lstrip().startswith("#"))
    return set(re.findall(r"\$\{(\w+)\}", "\n".join(lines)))
