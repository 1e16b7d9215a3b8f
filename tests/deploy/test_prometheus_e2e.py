"""The demo, scraped by a real Prometheus with the generated rules, alerting through a
real Alertmanager configured as deploy/ configures it; every Grafana query answered.

One ``omniwatch demo`` runs for the whole module.  Prometheus (Debian's) scrapes it every
second with the rules ``omniwatch rules`` writes for the demo's configuration, using
deploy/prometheus/prometheus.yml with only addresses and intervals changed.  Alertmanager
runs deploy/alertmanager/alertmanager.yml with its Slack webhook URL file pointing at a
local receiver; the demo also sends its own alerts there (``--alertmanager``).  The
assertions read everything through Prometheus's and Alertmanager's HTTP APIs and check
the values the demo is built to produce (:class:`monitor.demo.backends.Behaviour`,
:func:`monitor.demo.stores.expected_ratio`).  Nothing is timed: each wait is for a
condition, with a generous limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.demo.backends import Behaviour, SyntheticAccount
from monitor.demo.config import PASSWORD_ENV, SLACK_TOKEN_ENV, DemoPlan, config_document
from monitor.demo.stores import expected_ratio, seed_stores
from tests.alertmanager import Alertmanager, require_alertmanager, start_alertmanager
from tests.alerts.e2e_support import Hook
from tests.demo.demo_process import DemoProcess
from tests.deploy.files import DEPLOY, dashboard, panel_queries
from tests.procs import wait_for
from tests.prometheus import Prometheus, running_prometheus

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

BEHAVIOUR = Behaviour()
# Grafana variables as "All" selects them; $__rate_interval wide enough to cover the run.
ALL = {"channel": ".*", "slo": ".*", "dataset": ".*", "__rate_interval": "5m",
       "__interval": "1s", "__range": "5m"}
WAIT = 120.0  # seconds: a limit for a slow shared machine, never a measurement


@dataclass
class Stack:
    """The running demo, Prometheus, Alertmanager and the Slack webhook receiver."""

    demo: DemoProcess
    prometheus: Prometheus
    alertmanager: Alertmanager
    slack: Hook


def demo_rules(folder: Path) -> Path:
    """``omniwatch rules`` for the demo's configuration, as an operator would run it.

    The demo builds its configuration at start-up (ports, opening hours); the rules depend
    only on its channels and objectives, so the same document with placeholder ports is
    written to a file and given to the command.
    """
    plan = DemoPlan(ports=dict.fromkeys(("app", "website", "mini", "branch", "gateway"), 9),
                    stores=seed_stores(folder), db=folder / "history.db",
                    slack_api_url="http://127.0.0.1:9/api/", started_at=time.time(),
                    behaviour=BEHAVIOUR, account=SyntheticAccount())
    config = folder / "demo.yaml"
    config.write_text(yaml.safe_dump(config_document(plan), sort_keys=False))
    rules = folder / "rules.yml"
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "-c", str(config), "-o", str(rules)],
        env={**os.environ, SLACK_TOKEN_ENV: "xoxb-rules-only", PASSWORD_ENV: "rules-only"},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return rules


def prometheus_config(demo: str, alertmanager: str, rules: Path) -> str:
    """deploy/prometheus/prometheus.yml with this test's addresses, 1 s intervals."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    jobs["omniwatch"].update(scrape_interval="1s", static_configs=[{"targets": [demo]}])
    jobs["alertmanager"]["static_configs"] = [{"targets": [alertmanager]}]
    del jobs["prometheus"]  # its own port is chosen at start
    config["scrape_configs"] = list(jobs.values())
    return yaml.safe_dump(config)


def alertmanager_config(webhook_url_file: Path) -> str:
    """deploy/alertmanager/alertmanager.yml with the secret file in this test's folder."""
    text = (DEPLOY / "alertmanager/alertmanager.yml").read_text()
    assert text.count("/run/secrets/slack_webhook_url") == 1  # one anchor, merged
    return text.replace("/run/secrets/slack_webhook_url", str(webhook_url_file))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_alertmanager()
    folder = tmp_path_factory.mktemp("e2e")
    (folder / "rules").mkdir()
    rules = demo_rules(folder / "rules")
    with Hook() as slack:
        url_file = folder / "slack_webhook_url"
        url_file.write_text(slack.url)
        am = start_alertmanager(folder, alertmanager_config(url_file))
        try:
            demo = DemoProcess("--duration", "10m", "--alertmanager", am.url, cwd=folder)
            try:
                metrics = demo.banner_value("metrics")
                address = metrics.removeprefix("http://").removesuffix("/metrics")
                config = prometheus_config(address, am.url.removeprefix("http://"), rules)
                with running_prometheus(folder, config) as prom:
                    wait_for(lambda: prom.query('up{job="omniwatch"} == 1'), timeout=WAIT,
                             every=0.5)
                    yield Stack(demo, prom, am, slack)
            finally:
                demo.interrupt()
                assert demo.wait(60) == 0, demo.stderr
        finally:
            am.stop()


def _eventually(prom: Prometheus, promql: str, label: str, *, count: int = 1,
                ) -> dict[str, float]:
    """Wait until ``promql`` has at least ``count`` series; their values by ``label``."""
    wait_for(lambda: len(prom.query(promql)) >= count, timeout=WAIT, every=0.5)
    return prom.values(promql, label)


def _enough_website_probes(prom: Prometheus) -> None:
    """Wait for enough website probes that one more or less moves its ratio by under a
    tenth (the tolerances below)."""
    wait_for(lambda: prom.query('sum(omniwatch_probes_total{target="website-home"}) >= 12'),
             timeout=WAIT, every=0.5)


def test_availability_is_what_the_backends_do(stack: Stack) -> None:
    prom = stack.prometheus
    _enough_website_probes(prom)
    sli = _eventually(prom, 'omniwatch_sli_ratio{window="1h"}', "slo", count=8)
    assert sli["app"] == 1.0
    assert sli["miniprogram"] == 1.0
    # Every flaky_every-th website answer is a 502: 75% good with the default 4.
    assert sli["website"] == pytest.approx(1 - 1 / BEHAVIOUR.flaky_every, abs=0.1)
    # Every slow_every-th mini-program answer is over its latency objective.
    assert sli["miniprogram-latency"] == pytest.approx(1 - 1 / BEHAVIOUR.slow_every, abs=0.1)
    success = _eventually(prom, "omniwatch_probe_success", "target", count=7)
    assert success["app-api"] == 1.0


def test_burn_rates_from_omniwatch_and_from_the_recording_rules(stack: Stack) -> None:
    prom = stack.prometheus
    _enough_website_probes(prom)
    expected_error = 1 / BEHAVIOUR.flaky_every
    burn = _eventually(prom, 'omniwatch_burn_rate{window="5m"}', "slo", count=8)
    assert burn["app"] == 0.0
    assert burn["website"] == pytest.approx(expected_error / 0.001, rel=0.4)
    # The rules of `omniwatch rules`, evaluated by Prometheus over the scraped counters.
    ratio = _eventually(prom, "omniwatch:slo_error_ratio:rate5m", "slo", count=8)
    assert ratio["app"] == 0.0
    assert ratio["website"] == pytest.approx(expected_error, rel=0.4)
    objective = _eventually(prom, "omniwatch:slo_objective:ratio", "slo", count=8)
    assert objective["website"] == 0.999
    assert objective["website-latency"] == 0.95


def test_a_burn_rate_page_reaches_alertmanager_and_slack(stack: Stack) -> None:
    am = stack.alertmanager

    def page() -> list[dict[str, Any]]:
        return [a for a in am.get("/api/v2/alerts")
                if a["labels"].get("alertname") == "OmniwatchErrorBudgetBurn"
                and a["labels"].get("slo") == "website"
                and a["labels"].get("severity") == "page"]

    (alert,) = wait_for(page, timeout=WAIT, every=0.5)  # type: ignore[misc]
    assert alert["status"]["state"] == "active"
    assert alert["labels"]["channel"] == "website"
    assert alert["annotations"]["summary"] == (
        "SLO website is burning its error budget too fast (page)")
    # The healthy app never burns.
    assert not [a for a in am.get("/api/v2/alerts") if a["labels"].get("slo") == "app"]
    # The demo's own alerts arrive by the other path, omniwatch's Alertmanager provider.
    wait_for(lambda: [a for a in am.get("/api/v2/alerts")
                      if a["labels"].get("alertname") == "SloBurnRate"],
             timeout=WAIT, every=0.5)

    # deploy/'s routing sends pages to #oncall through the Slack webhook (the branch's
    # outage pages too: one message per SLO).
    title = "FIRING: OmniwatchErrorBudgetBurn · SLO website · website"

    def slack_page() -> list[dict[str, Any]]:
        return [a for b in stack.slack.bodies() if b.get("channel") == "#oncall"
                for a in b.get("attachments", []) if a.get("title") == title]

    (attachment, *_) = wait_for(slack_page, timeout=WAIT, every=0.5)  # type: ignore[misc]
    assert "SLO website is burning its error budget too fast (page)" in attachment["text"]


def test_the_journey_logs_in_and_reads_a_balance(stack: Stack) -> None:
    prom = stack.prometheus
    steps = _eventually(prom, 'omniwatch_journey_step_success{target="app-login-balance"}',
                        "step", count=3)
    assert steps == {"login": 1.0, "balance": 1.0, "logout": 1.0}
    runs = 'omniwatch_journey_duration_seconds_count{target="app-login-balance"}'
    wait_for(lambda: prom.query(f"{runs} >= 2"), timeout=WAIT, every=0.5)
    assert prom.values('omniwatch_probe_success{target="app-login-balance"}',
                       "target") == {"app-login-balance": 1.0}


def test_consistency_per_dataset_and_channel_is_what_the_stores_were_seeded_with(
        stack: Stack) -> None:
    prom = stack.prometheus
    promql = 'omniwatch_consistency_ratio{dataset!="all",channel!="all"}'
    wait_for(lambda: len(prom.query(promql)) == 6, timeout=WAIT, every=0.5)
    ratios = {(r["metric"]["dataset"], r["metric"]["channel"]): float(r["value"][1])
              for r in prom.query(promql)}
    assert set(ratios) == {(d, c) for d in ("customers", "accounts")
                           for c in ("app", "website", "miniprogram")}
    for (dataset, channel), ratio in ratios.items():
        assert ratio == pytest.approx(expected_ratio(dataset, channel)), (dataset, channel)
    assert ratios[("customers", "miniprogram")] < 0.99
    assert {r["metric"]["mode"] for r in prom.query(promql)} == {"full"}
    fields = prom.query('omniwatch_consistency_field_mismatches{dataset="customers"} > 0')
    assert {r["metric"]["field"] for r in fields} >= {"name", "phone"}


def test_every_dashboard_query_returns_data(stack: Stack) -> None:
    prom = stack.prometheus
    queries = panel_queries(dashboard())
    assert len(queries) > 20

    def empty() -> list[str]:
        return [f"{q.panel} ({q.ref}): {q.substituted(ALL)}" for q in queries
                if not prom.query(q.substituted(ALL))]

    # Everything the demo produces shows within its first minute; wait for the last.
    missing: list[str] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        missing = empty()
        if not missing:
            break
        time.sleep(1.0)
    assert not missing, "dashboard queries without data:\n" + "\n".join(missing)
