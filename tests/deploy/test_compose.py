"""deploy/docker-compose.yml: ``docker-compose config`` (Debian's docker-compose, which
validates against the Compose specification's JSON Schema offline) accepts it, and the
services are wired to each other and to the files in deploy/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import load_config
from tests.deploy.files import DEPLOY, env_file, env_references
from tests.support import require

COMPOSE = DEPLOY / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return doc


def _compose_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` on ``text`` in a copy of deploy/, with the secret files
    the README tells the operator to create (never committed) as placeholders."""
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose not installed (Debian package docker-compose)")
    assert binary is not None
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    for secret in ("omniwatch.env", "alertmanager/slack_webhook_url", "grafana/admin_password"):
        (copy / secret).write_text("")
    (copy / COMPOSE.name).write_text(text)
    return subprocess.run([binary, "-f", COMPOSE.name, "config", "-q"], cwd=copy,
                          capture_output=True, text=True, timeout=120, check=False)


def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    done = _compose_config(tmp_path, COMPOSE.read_text("utf-8"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_docker_compose_config_refuses_a_wrong_key(tmp_path: Path) -> None:
    text = COMPOSE.read_text("utf-8").replace("    restart: unless-stopped\n",
                                              "    restart: unless-stopped\n    portz: []\n", 1)
    done = _compose_config(tmp_path, text)
    assert done.returncode != 0
    assert "portz" in done.stderr


def test_services_are_wired_to_the_deploy_files() -> None:
    services = _compose()["services"]
    assert set(services) == {"omniwatch", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
    omniwatch = services["omniwatch"]
    assert omniwatch["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert "./omniwatch.yaml:/etc/omniwatch/omniwatch.yaml:ro" in omniwatch["volumes"]
    assert any(v.endswith(":/var/lib/omniwatch") for v in omniwatch["volumes"])
    # Prometheus reads deploy/prometheus/ (scrape config and rules) at /etc/prometheus.
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert services["alertmanager"]["secrets"] == ["slack_webhook_url"]
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    datasources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus"
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/omniwatch.yml").read_text())["providers"]
    grafana = _compose()["services"]["grafana"]
    assert f"./grafana/dashboards:{providers[0]['options']['path']}:ro" in grafana["volumes"]


def test_container_config_loads_with_the_env_example(tmp_path: Path) -> None:
    env = env_file(DEPLOY / "omniwatch.env.example")
    text = (DEPLOY / "omniwatch.yaml").read_text("utf-8")
    assert env_references(text) == set(env)
    config = load_config(DEPLOY / "omniwatch.yaml", env=env)
    assert config.store.sqlite_path == "/var/lib/omniwatch/omniwatch.db"
    assert [r.name for r in config.alerts.receivers] == ["alertmanager"]


@pytest.mark.parametrize("secret", ["omniwatch.env", "alertmanager/slack_webhook_url",
                                    "grafana/admin_password"])
def test_secret_files_are_ignored_by_git(secret: str) -> None:
    ignored = (DEPLOY / ".gitignore").read_text("utf-8").splitlines()
    assert secret in ignored
