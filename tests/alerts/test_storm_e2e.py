"""A storm through a real ``omniwatch run``: 1,000 targets of one channel fail at once.

Every target is a TCP probe of one closed port on 127.0.0.1 (connecting is refused at
once), so the whole channel is down from its first probes.  With the channel rule, Slack
hears one ChannelDown message (the 1,000 TargetDown alerts under it are inhibited); with
it off, one grouped message summarising them.  Either way every message keeps within
Slack's limits: the local Slack refuses what Slack would (``invalid_blocks``,
``msg_too_long``), and the limits are checked here too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.e2e_support import (
    CHANNEL,
    FAST_RULES,
    TOKEN_ENV,
    assert_within_limits,
    config_doc,
    metric,
    refused,
    running,
    slack_settings,
    write_config,
)
from tests.procs import OmniwatchProcess, wait_for
from tests.servers import closed_port
from tests.slack_server import TOKEN, Message, SlackServer

pytestmark = pytest.mark.slow

TARGETS = 1000
# Every target runs once in its first interval (start times are spread over it), so a
# group_wait longer than the interval sees the whole storm in its first message.
STORM_PROBES = {"interval": "2s", "timeout": "1s"}
STORM_TIMING = {"evaluation_interval": "1s", "group_wait": "3s", "group_interval": "4s"}
# Longer than a group_interval after the storm settled: what would follow, if anything.
SETTLE_SECONDS = 5.0


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackServer]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SlackServer() as server:
        yield server


def storm_config(tmp_path: Path, slack: SlackServer, *, channel_down: bool) -> Path:
    port = closed_port()
    targets = [{"name": f"branch-{i:04d}", "probe": "tcp", "host": "127.0.0.1", "port": port}
               for i in range(TARGETS)]
    rules = {**FAST_RULES, "target_down": {"after": 1, "resolve_after": 1},
             "channel_down": {"share": "50%"} if channel_down else False}
    return write_config(tmp_path / "omniwatch.yaml", config_doc(
        {"sqlite": str(tmp_path / "omniwatch.db")}, {"branch": targets},
        {"slack": slack_settings(slack), **STORM_TIMING, "rules": rules},
        defaults=STORM_PROBES))


def alerts(proc: OmniwatchProcess, alertname: str, severity: str, state: str) -> float:
    return metric(proc, "omniwatch_alerts", alertname=alertname, severity=severity,
                  state=state) or 0.0


def settled(proc: OmniwatchProcess) -> bool:
    return metric(proc, "omniwatch_outbox_pending") == 0


def firing_count(message: Message) -> int | None:
    """The ``*1,000 firing*`` of a grouped message's summary."""
    for block in message.blocks:
        text = (block.get("text") or {}).get("text", "")
        if found := re.search(r"\*([\d,]+) firing\*", text):
            return int(found.group(1).replace(",", ""))
    return None


def test_a_channel_of_1000_failing_targets_is_one_channel_down_message(
        tmp_path: Path, slack: SlackServer) -> None:
    cfg = storm_config(tmp_path, slack, channel_down=True)
    with running(cfg, "storm") as proc:
        wait_for(lambda: alerts(proc, "TargetDown", "warning", "inhibited") == TARGETS,
                 timeout=60, every=0.5)
        wait_for(lambda: slack.messages(CHANNEL), timeout=30)
        wait_for(lambda: settled(proc), timeout=30)
        wait_for(lambda: alerts(proc, "ChannelDown", "page", "firing") == 1, timeout=10)
        time.sleep(SETTLE_SECONDS)
        assert settled(proc)
    top = slack.messages(CHANNEL)
    channel_down = [m for m in top if "ChannelDown" in m.text.splitlines()[0]]
    assert len(channel_down) == 1
    # Target alerts that fired before the channel did may have made one grouped message;
    # nothing per target, and nothing more once the channel alert inhibits them.
    assert len(top) <= 3
    assert len(slack.posts()) <= 4
    assert refused(slack) == []
    for m in slack.posts():
        assert_within_limits(m)
    header = channel_down[0].blocks[0]["text"]["text"]
    assert header.startswith("🔴 FIRING: ChannelDown · branch")


def test_1000_target_alerts_without_the_channel_rule_are_one_summarised_message(
        tmp_path: Path, slack: SlackServer) -> None:
    cfg = storm_config(tmp_path, slack, channel_down=False)
    with running(cfg, "storm") as proc:
        wait_for(lambda: alerts(proc, "TargetDown", "warning", "firing") == TARGETS,
                 timeout=60, every=0.5)
        wait_for(lambda: slack.messages(CHANNEL), timeout=30)
        wait_for(lambda: settled(proc), timeout=30)
        time.sleep(SETTLE_SECONDS)
        assert settled(proc)
    [opening] = slack.messages(CHANNEL)
    replies = slack.replies(opening.ts)
    assert len(replies) <= 3  # stragglers of the storm, as updates in its thread
    assert refused(slack) == []
    for m in (opening, *replies):
        assert_within_limits(m)
    # The last word on the group counts every alert; the opening lists the worst and
    # says how many more there are, never one message per target.
    assert firing_count((opening, *replies)[-1]) == TARGETS
    texts = [b["text"]["text"] for b in opening.blocks if b["type"] == "section"]
    assert any(re.search(r"…and [\d,]+ more\Z", t) for t in texts)
    assert opening.text.startswith("🔴 FIRING: TargetDown · branch")
