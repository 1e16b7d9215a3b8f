"""The alerting families in ``/metrics`` of a real ``omniwatch run``: a target down, the
channel outage that inhibits its alert, one Slack post accepted after one 500.

``omniwatch_alerts{alertname,severity,state}``, ``omniwatch_notifications_total{provider,
result}``, ``omniwatch_outbox_pending``, ``omniwatch_notification_delay_seconds`` and
``omniwatch_alerts_leader`` with the values that run must give them; the exposition is
parsed by prometheus_client and checked by promtool.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from monitor.config import load_config
from monitor.metrics.alerts import DELAY_BUCKETS
from monitor.runtime.alerting import LEASE_NAME, LEASE_TTL_SECONDS
from monitor.runtime.monitor import Monitor
from monitor.store.sqlite import SqliteProbeStore
from tests.procs import OmniwatchProcess, wait_for
from tests.runtime.alert_support import until
from tests.servers import closed_port
from tests.slack_server import TOKEN, SlackServer
from tests.support import require

ALERT_FAMILIES = ("omniwatch_alerts", "omniwatch_notifications",
                  "omniwatch_outbox_pending", "omniwatch_notification_delay_seconds",
                  "omniwatch_alerts_leader")


def _config(tmp_path: Path, slack: SlackServer) -> Path:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(f"""\
store: {{sqlite: {tmp_path / 'omniwatch.db'}}}
channels:
  branch:
    targets:
      - {{name: core-gateway, probe: tcp, host: 127.0.0.1, port: {closed_port()},
         interval: 1s, timeout: 1s}}
alerts:
  slack: {{token: {TOKEN}, channel: "#channel-reliability", api_url: "{slack.api_url}"}}
  evaluation_interval: 1s
  group_wait: 0s
  rules: {{target_down: {{after: 1}}}}
""")
    return cfg


def test_alert_families_after_an_alert_is_delivered(tmp_path: Path,
                                                    slack_server: SlackServer) -> None:
    slack_server.fail_next(1, status=500, method="chat.postMessage")
    proc = OmniwatchProcess(_config(tmp_path, slack_server))
    try:
        wait_for(lambda: slack_server.posts(), timeout=30)
        # The evaluation after the delivery has read the outbox again.
        wait_for(lambda: proc.samples().get(("omniwatch_outbox_pending", frozenset())) == 0,
                 timeout=10)
        status, text = proc.get("/metrics")
        assert status == 200
    finally:
        assert proc.stop() == 0
    (post,) = slack_server.posts()
    assert "ChannelDown" in post.text
    assert [r.status for r in slack_server.requests("chat.postMessage")] == [500, 200]

    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(ALERT_FAMILIES) <= families.keys()

    def samples(family: str, suffix: str = "") -> dict[frozenset[tuple[str, str]], float]:
        return {frozenset(s.labels.items()): s.value for s in families[family].samples
                if s.name == family + suffix}

    def key(**labels: str) -> frozenset[tuple[str, str]]:
        return frozenset(labels.items())

    # The outage fires and was heard; its target's alert fires, inhibited by it.
    assert samples("omniwatch_alerts") == {
        key(alertname="ChannelDown", severity="page", state="firing"): 1.0,
        key(alertname="TargetDown", severity="warning", state="inhibited"): 1.0,
    }
    assert families["omniwatch_alerts"].type == "gauge"
    # One post: refused once (500, retried), then accepted.
    assert samples("omniwatch_notifications", "_total") == {
        key(provider="slack", result="retry"): 1.0,
        key(provider="slack", result="delivered"): 1.0,
    }
    assert families["omniwatch_notifications"].type == "counter"
    assert samples("omniwatch_outbox_pending") == {key(): 0.0}
    assert samples("omniwatch_alerts_leader") == {key(): 1.0}

    delay = families["omniwatch_notification_delay_seconds"]
    assert delay.type == "histogram"
    assert samples(delay.name, "_count") == {key(): 1.0}
    (total,) = samples(delay.name, "_sum").values()
    # Decided, refused, retried after a backoff of at least half a second, accepted.
    assert total >= 0.5
    buckets = {dict(k)["le"]: v for k, v in samples(delay.name, "_bucket").items()}
    assert len(buckets) == len(DELAY_BUCKETS) + 1
    assert buckets["+Inf"] == 1.0
    assert buckets["0.25"] == 0.0
    for bound in DELAY_BUCKETS:  # cumulative: 0 below the observed delay, 1 from it on
        assert buckets[repr(float(bound))] == (1.0 if bound >= total else 0.0), bound

    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool not installed (apt-get install prometheus)")
    assert promtool is not None
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60, check=False)
    output = (check.stdout + check.stderr).decode()
    assert "error while linting" not in output, output
    # Lint hints about other families may exist (see tests/server/test_scrape.py); none
    # may be about the alerting ones.
    assert [line for line in output.splitlines()
            if any(line.startswith(f + " ") or line.startswith(f + "_")
                   for f in ALERT_FAMILIES)] == [], output


async def test_a_standby_exports_no_alerts_of_its_time_as_leader(
        tmp_path: Path, slack_server: SlackServer) -> None:
    """Another replica took the lease: this one's gauges must not keep showing the alerts
    it counted as leader (they may have resolved since; the leader exports them)."""
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    other = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    mon = Monitor(load_config(_config(tmp_path, slack_server)), store=store)
    alerting = mon.alerting
    assert alerting is not None
    stats = alerting.stats
    mon.start()
    try:
        await until(lambda: slack_server.posts() and stats.outbox_pending == 0)
        assert _alert_samples(await mon.metrics_body())["omniwatch_alerts_leader"] == [1.0]
        # Replica B takes the lease as if this one had stopped renewing it.
        assert other.acquire_lease(LEASE_NAME, "replica-b", 60.0,
                                   time.time() + LEASE_TTL_SECONDS + 1)
        await until(lambda: not alerting.leader)
        body = await mon.metrics_body()
    finally:
        await mon.stop()
        store.close()
        other.close()
    families = _alert_samples(body)
    assert families["omniwatch_alerts_leader"] == [0.0]
    assert families["omniwatch_alerts"] == []
    assert "omniwatch_outbox_pending" not in families
    # What it did deliver stays counted: counters never go back.
    assert families["omniwatch_notifications"] == [1.0]


def _alert_samples(body: bytes) -> dict[str, list[float]]:
    return {f.name: [s.value for s in f.samples if not s.name.endswith("_created")]
            for f in text_string_to_metric_families(body.decode())
            if f.name in ALERT_FAMILIES}
