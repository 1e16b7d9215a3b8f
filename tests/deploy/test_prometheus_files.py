"""deploy/prometheus/: promtool accepts the scrape config, and the committed rules are
exactly what ``omniwatch rules`` writes for the example config today."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.config.test_loader import ENV
from tests.deploy.files import DEPLOY, ROOT, RULES, env_file
from tests.support import require


def _promtool() -> str:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (Debian package prometheus)")
    assert promtool is not None
    return promtool


def test_committed_rules_are_what_omniwatch_rules_writes_for_the_example() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "-c", "omniwatch.example.yaml"],
        cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == RULES.read_text("utf-8"), (
        "deploy/prometheus/omniwatch-rules.yml is stale: regenerate it with "
        "`omniwatch rules -c omniwatch.example.yaml -o deploy/prometheus/omniwatch-rules.yml`")


def test_committed_rules_fit_the_compose_config_as_it_is() -> None:
    # docker compose up works without regenerating: same channels and objectives.
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "rules", "-c", str(DEPLOY / "omniwatch.yaml")],
        env={**os.environ, **env_file(DEPLOY / "omniwatch.env.example")},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == RULES.read_text("utf-8")


@pytest.mark.prometheus
def test_promtool_check_config_loads_the_rules_too() -> None:
    done = subprocess.run([_promtool(), "check", "config", "prometheus.yml"],
                          cwd=DEPLOY / "prometheus", capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # check config also parses every rule file it names: all 50 rules of the example.
    groups = yaml.safe_load(RULES.read_text("utf-8"))["groups"]
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in done.stdout


@pytest.mark.prometheus
def test_promtool_check_rules() -> None:
    done = subprocess.run([_promtool(), "check", "rules", RULES.name], cwd=RULES.parent,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_scrape_config_wires_omniwatch_rules_and_alertmanager() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    assert config["rule_files"] == [RULES.name]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert jobs["omniwatch"]["static_configs"] == [{"targets": ["omniwatch:9470"]}]
    ams = config["alerting"]["alertmanagers"]
    assert ams == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
