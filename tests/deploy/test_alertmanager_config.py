"""deploy/alertmanager/alertmanager.yml: amtool accepts it, and it routes to Slack with
the webhook URL read from a file (a secret), never written in the config."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.files import DEPLOY
from tests.support import require

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def _config() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(CONFIG.read_text("utf-8"))
    return doc


@pytest.mark.prometheus
def test_amtool_check_config() -> None:
    amtool = shutil.which("amtool")
    require(amtool is not None, "amtool not installed (Debian package prometheus-alertmanager)")
    assert amtool is not None
    done = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_receiver_is_slack_with_the_url_from_a_file() -> None:
    receivers = _config()["receivers"]
    assert receivers
    for receiver in receivers:
        assert set(receiver) == {"name", "slack_configs"}, receiver["name"]
        for slack in receiver["slack_configs"]:
            assert slack["api_url_file"] == "/run/secrets/slack_webhook_url"
            assert "api_url" not in slack
            assert slack["send_resolved"] is True


def test_pages_go_to_oncall_and_the_rest_to_the_reliability_channel() -> None:
    config = _config()
    channel = {r["name"]: r["slack_configs"][0]["channel"] for r in config["receivers"]}
    route = config["route"]
    assert channel[route["receiver"]] == "#channel-reliability"
    (page,) = route["routes"]
    assert page["matchers"] == ['severity=~"page|critical"']
    assert channel[page["receiver"]] == "#oncall"
    # The burn-rate alerts of omniwatch rules carry slo; omniwatch's own carry channel.
    assert {"alertname", "slo", "channel"} <= set(route["group_by"])
