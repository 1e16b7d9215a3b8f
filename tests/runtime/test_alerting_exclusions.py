"""Probes excluded by a maintenance window or by service hours never fire an alert.

A real Monitor in-process over SQLite, three channels whose only target is down (a
closed port): ``branch`` inside a maintenance window covering now, ``app`` outside its
service hours, ``website`` counted.  The counted one pages through the local Slack
server, which proves the rules ran on failures; the excluded two, after as many
evaluations, have no alert in the store and nothing posted.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import parse_config
from monitor.runtime.monitor import Monitor
from monitor.store.sqlite import SqliteProbeStore
from tests.runtime.alert_support import until
from tests.servers import closed_port
from tests.slack_server import TOKEN, SlackServer

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _config(slack: SlackServer) -> str:
    now = time.time()
    # Open one day a week, never today: every probe of the test is outside the hours.
    closed_day = DAYS[(datetime.now(UTC).weekday() + 3) % 7]
    target = ("      - {{name: {name}, probe: tcp, host: 127.0.0.1, port: " + str(closed_port())
              + ", interval: 1s, timeout: 1s}}\n")
    return (
        "channels:\n"
        "  branch:\n    targets:\n" + target.format(name="core-gateway") +
        "  app:\n"
        f"    service_hours: {{days: {closed_day}, from: '00:00', to: '23:59', tz: UTC}}\n"
        "    targets:\n" + target.format(name="app-api") +
        "  website:\n    targets:\n" + target.format(name="web-home") +
        "maintenance:\n"
        f"  - {{name: core-upgrade, start: '{_iso(now - 3600)}', end: '{_iso(now + 3600)}',"
        " channels: [branch]}\n"
        "alerts:\n"
        f"  slack: {{token: {TOKEN}, channel: '#channel-reliability',"
        f" api_url: '{slack.api_url}'}}\n"
        "  evaluation_interval: 1s\n"
        "  group_wait: 0s\n"
        "  rules: {target_down: {after: 1}}\n")


async def test_excluded_targets_never_fire(tmp_path: Path, slack_server: SlackServer) -> None:
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    mon = Monitor(parse_config(_config(slack_server)), store=store)
    assert mon.alerting is not None
    excluded = ("core-gateway", "app-api")
    mon.start()
    try:
        # The counted channel pages: its rules saw failures and delivery works.
        await until(lambda: slack_server.posts())
        seen = mon.alerting.stats.evaluations
        # Then as many excluded failures and evaluations again as it took to page.
        await until(lambda: all(sum(mon.state.targets[t].excluded.values()) >= 3
                                for t in excluded)
                    and mon.alerting.stats.evaluations >= seen + 3)
        await mon.flush()
    finally:
        await mon.stop()
    try:
        state = store.load_engine_state()
        outbox = store.outbox_counts()
    finally:
        store.close()

    for t in excluded:
        st = mon.state.targets[t]
        assert st.consecutive_failures == 0, t  # no counted failure, nothing to alert on
        assert st.last is not None, t
        assert not st.last.success, t
    assert set(mon.state.targets["core-gateway"].excluded) == {"maintenance:core-upgrade"}
    assert set(mon.state.targets["app-api"].excluded) == {"service_hours"}
    alerts = {(a.label("alertname"), a.label("channel")): a.status
              for a in state.alerts.values()}
    assert alerts == {("ChannelDown", "website"): "firing", ("TargetDown", "website"): "firing"}
    (post,) = slack_server.posts()
    assert "website" in post.text
    assert "branch" not in post.text
    assert "app-api" not in post.text
    assert {k: n for k, n in outbox.items() if n} == {"delivered": 1}
