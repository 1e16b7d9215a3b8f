"""Reloading the alerts section of a running Monitor (in-process, SQLite, local Slack).

A route's Slack channel changed by a reload applies to the next notification that opens
a message (an episode already open keeps its thread where it is); a reload with a bad
alerts section is refused, the old routes stay, and alerting goes on.
"""

from __future__ import annotations

from pathlib import Path

from monitor.config import load_config
from monitor.runtime.monitor import Monitor
from monitor.store.sqlite import SqliteProbeStore
from tests.runtime.alert_support import Switch, switchable_target, until
from tests.slack_server import TOKEN, SlackServer

CONFIG = """\
channels:
  branch:
    labels: {{team: branch-ops}}
    targets:
      - {{name: core-gateway, probe: http, url: "{url}", interval: 1s, timeout: 1s}}
alerts:
  slack: {{token: {token}, channel: "#channel-reliability", api_url: "{api_url}"}}
  evaluation_interval: 1s
  group_wait: 0s
  group_interval: 1s
  rules: {{target_down: {{after: 1, resolve_after: 1}}}}
  routes:
    - {{name: branch, {matcher}, slack: {{channel: "{channel}"}}}}
"""


def _write(path: Path, target: Switch, slack: SlackServer, *, channel: str,
           matcher: str = "match: {team: branch-ops}") -> None:
    path.write_text(CONFIG.format(url=target.url, token=TOKEN, api_url=slack.api_url,
                                  channel=channel, matcher=matcher))


def _opened(slack: SlackServer, channel: str) -> list[str]:
    """The ts of every top-level message in ``channel``."""
    return [m.ts for m in slack.messages(channel)]


async def test_a_reload_moves_the_next_message_and_a_bad_one_changes_nothing(
        tmp_path: Path, slack_server: SlackServer) -> None:
    cfg = tmp_path / "omniwatch.yaml"
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    async with switchable_target() as target:
        _write(cfg, target, slack_server, channel="#branch-oncall")
        mon = Monitor(load_config(cfg), config_path=str(cfg), store=store)
        assert mon.alerting is not None
        mon.start()
        try:
            # Down: the outage opens a message in the route's channel.
            (first,) = await until(lambda: _opened(slack_server, "#branch-oncall"))

            _write(cfg, target, slack_server, channel="#channel-reliability")
            assert await mon.reload() == []
            # Up: the open episode resolves where it began (updated in place, a reply).
            target.up = True
            await until(lambda: slack_server.updates())
            await until(lambda: slack_server.replies(first))
            assert slack_server.messages("#channel-reliability") == []
            # Down again: a new episode, in the channel the reload configured.
            target.up = False
            (second,) = await until(lambda: _opened(slack_server, "#channel-reliability"))
            assert _opened(slack_server, "#branch-oncall") == [first]

            # A bad alerts section is refused, naming the problem; nothing changes.
            before = mon.config
            _write(cfg, target, slack_server, channel="#branch-oncall",
                   matcher='matchers: ["team"]')
            problems = await mon.reload()
            assert len(problems) == 1
            assert "alerts.routes[0].matchers[0]: 'team' is not a matcher" in problems[0]
            assert mon.config is before
            assert mon.alerting.config is before
            assert mon.reload_status.success is False
            # Alerting goes on with the routes it had: the resolution reaches the thread
            # of the second message, in the channel of the last good config.
            evaluations = mon.alerting.stats.evaluations
            target.up = True
            await until(lambda: slack_server.replies(second))
            assert mon.alerting.stats.evaluations > evaluations
            assert mon.alerting.leader
        finally:
            await mon.stop()
    store.close()

    updated = {u.ts for u in slack_server.updates()}
    assert updated == {first, second}
    assert _opened(slack_server, "#branch-oncall") == [first]
    assert _opened(slack_server, "#channel-reliability") == [second]
    posts = slack_server.posts()
    assert all("ChannelDown" in p.text for p in posts if p.thread_ts is None)
    # Every message in order: open, resolved reply; open, resolved reply. Nothing else.
    assert [(p.ts in (first, second), p.thread_ts) for p in posts] == [
        (True, None), (False, first), (True, None), (False, second)]
