"""Prometheus rules: generated text, the committed example, and real promtool runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from monitor.slo.budget import SloSpec
from monitor.slo.rules import PrometheusSlo, longest_window_seconds, render_rules, rule_groups
from monitor.slo.windows import parse_alert_windows
from tests.support import require

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
EXAMPLE = [
    PrometheusSlo.for_channel(SloSpec(channel, latency_objective=latency), channel)
    for channel, latency in (("app", 0.99), ("website", None), ("miniprogram", None),
                             ("branch", None))
]  # fmt: skip


def test_committed_example_is_what_the_generator_writes() -> None:
    assert (DEPLOY / "omniwatch-rules.yml").read_text() == render_rules(EXAMPLE)


def test_rule_shapes() -> None:
    groups = rule_groups(EXAMPLE)["groups"]
    assert [g["name"] for g in groups] == [
        "omniwatch-slo-app",
        "omniwatch-slo-app-latency",
        "omniwatch-slo-website",
        "omniwatch-slo-miniprogram",
        "omniwatch-slo-branch",
    ]
    app = groups[0]["rules"]
    records = [r["record"] for r in app if "record" in r]
    assert records == [
        *(
            f"omniwatch:slo_error_ratio:rate{w}"
            for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
        ),
        "omniwatch:slo_objective:ratio",
    ]
    page, ticket = (r for r in app if "alert" in r)
    assert page["labels"] == {"severity": "page", "slo": "app", "channel": "app"}
    assert 'omniwatch:slo_error_ratio:rate1h{slo="app"} > (14.4 * 0.001)' in page["expr"]
    assert 'omniwatch:slo_error_ratio:rate30m{slo="app"} > (6 * 0.001)' in page["expr"]
    assert 'omniwatch:slo_error_ratio:rate3d{slo="app"} > (1 * 0.001)' in ticket["expr"]
    latency = groups[1]["rules"][0]["expr"]
    assert 'result=~"failure|degraded"' in latency
    assert longest_window_seconds(EXAMPLE) == 3 * 86400


def test_a_custom_table_without_tickets() -> None:
    windows = parse_alert_windows(
        {"period": "7d", "page": [{"long": "1h", "short": "5m", "burn_rate": 10}]}
    )
    slo = PrometheusSlo(SloSpec("x", period="7d", alert_windows=windows), {"target": 'a"b'})
    rules = rule_groups([slo])["groups"][0]["rules"]
    assert [r.get("labels", {}).get("severity") for r in rules if "alert" in r] == ["page"]
    assert 'omniwatch_probes_total{target="a\\"b"}[1h]' in rules[1]["expr"]
    assert yaml.safe_load(render_rules([slo]))["groups"][0]["rules"] == rules


@pytest.mark.prometheus
@pytest.mark.parametrize("command", ["check", "test"])
def test_promtool(command: str) -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool is not installed (apt package prometheus)")
    assert promtool is not None
    name = "omniwatch-rules.yml" if command == "check" else "omniwatch-rules.test.yml"
    done = subprocess.run(
        [promtool, command, "rules", name],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
