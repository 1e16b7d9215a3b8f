"""Delivery faults through a real ``omniwatch run``: a Slack outage, SIGKILL with a post
in flight and with one pending, and a token Slack refuses.

The monitor is a child process on a SQLite store in ``tmp_path``; Slack is the local one
(:mod:`tests.slack_server`) behind ``alerts.slack.api_url``; targets are HTTP paths that
fail on demand.  What the store decided (its outbox) is compared with what Slack
received: every notification once, in the order decided, none twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.e2e_support import (
    CHANNEL,
    FAST_RULES,
    TOKEN_ENV,
    Hook,
    Targets,
    config_doc,
    events,
    kill,
    log_lines,
    metadata_id,
    metric,
    notifications,
    outbox,
    running,
    slack_settings,
    write_config,
)
from tests.procs import OmniwatchProcess, wait_for
from tests.slack_server import TOKEN, SlackServer

pytestmark = pytest.mark.slow

# Long enough for a few evaluations and group flushes (group_wait 1 s, group_interval
# 2 s): the time an unwanted notification would need to show up.
QUIET_SECONDS = 4.0


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackServer]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SlackServer() as server:
        yield server


@pytest.fixture
def targets() -> Iterator[Targets]:
    with Targets() as server:
        yield server


def firing(proc: OmniwatchProcess, alertname: str = "TargetDown") -> float:
    return metric(proc, "omniwatch_alerts", alertname=alertname, severity="warning",
                  state="firing") or 0.0


def accepted(slack: SlackServer) -> list[str]:
    """The writes Slack accepted, in order."""
    return [r.method for r in slack.requests()
            if r.status == 200 and r.method in ("chat.postMessage", "chat.update")]


def test_a_slack_outage_delays_every_notification_and_loses_or_repeats_none(
        tmp_path: Path, slack: SlackServer, targets: Targets) -> None:
    db = tmp_path / "omniwatch.db"
    cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
        {"sqlite": str(db)}, {"app": [targets.target("app-a"), targets.target("app-b")]},
        {"slack": slack_settings(slack)}))
    targets.fail("app-a")
    slack.fail_for(20, status=500)
    with running(cfg, "outage") as proc:
        # Three changes decided while Slack answers 500: app-a down (the opening post),
        # app-b down too (an update in the thread), both back (the resolution).
        wait_for(lambda: len(outbox(db)) >= 1, timeout=30)
        targets.fail("app-b")
        wait_for(lambda: len(outbox(db)) >= 2, timeout=30)
        targets.recover("app-a", "app-b")
        wait_for(lambda: outbox(db)[-1].kind == "resolved", timeout=30)
        # Past the outage, the retries get through (backoff doubles up to 16 s by then).
        wait_for(lambda: all(e.state == "delivered" for e in outbox(db)), timeout=90,
                 every=0.5)
        retries, delivered = notifications(proc, "retry"), notifications(proc, "delivered")
        failed = notifications(proc, "failed")

    decided = outbox(db)
    kinds = [e.kind for e in decided]
    assert kinds[0] == "firing"
    assert kinds[-1] == "resolved"
    assert "update" in kinds
    assert {e.receiver for e in decided} == {"default/slack"}
    # Each arrived once, in the order decided: the opening at the top, the rest in its
    # thread, the resolution also as the opening edited in place.
    [opening] = slack.messages(CHANNEL)
    posted = [metadata_id(m) for m in slack.posts()]
    assert len(set(posted)) == len(posted)
    assert posted == [e.id for e in decided]
    assert metadata_id(opening) == decided[0].id
    assert [metadata_id(m) for m in slack.replies(opening.ts)] == [e.id for e in decided[1:]]
    [update] = slack.updates()
    assert update.ts == opening.ts
    assert update.text.startswith("✅ RESOLVED")
    assert accepted(slack) == ["chat.postMessage"] * (len(decided) - 1) + [
        "chat.update", "chat.postMessage"]
    # Nothing was accepted before the outage ended.
    statuses = [r.status for r in slack.requests() if r.method == "chat.postMessage"]
    assert statuses[0] == 500
    assert 500 not in statuses[statuses.index(200):]
    assert (delivered, failed) == (len(decided), 0)
    assert retries > 0


def test_sigkill_with_a_post_in_flight_or_pending_loses_and_repeats_nothing(
        tmp_path: Path, slack: SlackServer, targets: Targets) -> None:
    db = tmp_path / "omniwatch.db"
    cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
        {"sqlite": str(db)}, {"app": [targets.target("app-a")], "web": [targets.target("web-a")]},
        {"slack": slack_settings(slack)}))
    targets.fail("app-a", "web-a")

    # 1. Two groups (one per channel) to post.  Slack stores the first post but does not
    # answer, the second waits its turn; SIGKILL then.
    slack.answer_late(600, method="chat.postMessage")
    with running(cfg, "first") as first:
        wait_for(lambda: slack.messages(CHANNEL) and len(outbox(db)) == 2, timeout=30)
        kill(first)
    in_flight, queued = outbox(db)
    assert (in_flight.kind, in_flight.state, in_flight.attempts) == ("firing", "pending", 1)
    assert (queued.kind, queued.state, queued.attempts) == ("firing", "pending", 0)
    [opening] = slack.messages(CHANNEL)
    assert metadata_id(opening) == in_flight.id
    slack.clear_faults()

    # 2. The restart (once the dead holder's lease expired) finds the first post in the
    # channel's history instead of posting it again, then posts the second.
    with running(cfg, "second") as second:
        wait_for(lambda: len(events(second, "notification_delivered")) == 2, timeout=40)
        done = events(second, "notification_delivered")
        assert [(d["notification"], d.get("recovered")) for d in done] == [
            (in_flight.id, True), (queued.id, None)]
        assert (notifications(second, "recovered"), notifications(second, "delivered")) == (1, 1)
        wait_for(lambda: firing(second) == 2, timeout=30)
    assert slack.requests("conversations.history")
    assert [e.state for e in outbox(db)] == ["delivered", "delivered"]
    assert [metadata_id(m) for m in slack.messages(CHANNEL)] == [in_flight.id, queued.id]

    # 3. A restart while both alerts fire and were notified: neither is notified again.
    # Then the resolution of the recovered post's alert is decided while Slack fails, and
    # the monitor stops with it pending, its attempt recorded.
    with running(cfg, "third") as third:
        wait_for(lambda: firing(third) == 2, timeout=30)
        time.sleep(QUIET_SECONDS)
        assert len(slack.posts()) == 2
        assert len(outbox(db)) == 2
        slack.fail_for(600, status=500)
        targets.recover(f"{in_flight.group_labels['channel']}-a")
        wait_for(lambda: notifications(third, "retry") >= 1, timeout=30)
    resolution = outbox(db)[-1]
    assert (resolution.kind, resolution.state) == ("resolved", "pending")
    assert resolution.attempts >= 1
    assert resolution.group_labels == in_flight.group_labels
    slack.clear_faults()

    # 4. The next process looks for the resolution, finds none, and delivers it: the
    # recovered message updated in place and its thread told, once.
    with running(cfg, "fourth") as fourth:
        wait_for(lambda: outbox(db)[-1].state == "delivered", timeout=30)
        time.sleep(QUIET_SECONDS)
        assert notifications(fourth, "delivered") == 1
    assert [e.kind for e in outbox(db)] == ["firing", "firing", "resolved"]
    posted = [metadata_id(m) for m in slack.posts()]
    assert posted == [in_flight.id, queued.id, resolution.id]
    assert [m.ts for m in slack.messages(CHANNEL)][:1] == [opening.ts]
    assert [metadata_id(m) for m in slack.replies(opening.ts)] == [resolution.id]
    [update] = slack.updates()
    assert update.ts == opening.ts
    assert update.text.startswith("✅ RESOLVED")
    assert accepted(slack) == ["chat.postMessage"] * 2 + ["chat.update", "chat.postMessage"]


def _alertnames(body: dict[str, Any]) -> set[str]:
    return {a["labels"]["alertname"] for a in body.get("alerts", [])}


def test_an_invalid_token_fails_for_good_once_logged_and_self_health_goes_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, targets: Targets) -> None:
    bad_token = "xoxb-not-a-token-slack-knows-0000"
    monkeypatch.setenv(TOKEN_ENV, bad_token)
    with SlackServer() as slack, Hook() as hook:
        # The webhook route takes only severity=ticket, which nothing here has: the
        # self-health alert reaches it only because its own route (the default, Slack)
        # is the broken one.
        cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
            {"sqlite": str(tmp_path / "omniwatch.db")},
            {"app": [targets.target("app-a")], "web": [targets.target("web-a")]},
            {"slack": slack_settings(slack), "rules": {**FAST_RULES, "self_health": True},
             "routes": [{"name": "tickets", "match": {"severity": "ticket"},
                         "webhook": {"url": hook.url}}]}))
        targets.fail("app-a", "web-a")
        with running(cfg, "badtoken") as proc:
            # Two groups (one per channel), both refused; then a resolution, refused too.
            wait_for(lambda: notifications(proc, "failed") >= 2, timeout=30)
            targets.recover("app-a")
            wait_for(lambda: notifications(proc, "failed") >= 3, timeout=30)
            wait_for(lambda: [b for b in hook.bodies()
                              if "NotificationsFailing" in _alertnames(b)], timeout=30)
            assert notifications(proc, "delivered", provider="webhook") >= 1
            lines = log_lines(proc)
        assert slack.messages(CHANNEL) == []
        assert {r.error for r in slack.requests("chat.postMessage")} == {"invalid_auth"}

    failures = [json.loads(line) for line in lines
                if '"notification_failed_permanently"' in line]
    assert len(failures) == 1
    assert (failures[0]["receiver"], failures[0]["error"]) == ("default/slack", "invalid_auth")
    assert not any(bad_token in line for line in lines)
    # What the other route heard: omniwatch's own alert, about the Slack receiver.
    body = next(b for b in hook.bodies() if "NotificationsFailing" in _alertnames(b))
    [alert] = body["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"]["receiver"] == "default/slack"
    assert alert["annotations"]["error"] == "invalid_auth"
    assert all(_alertnames(b) == {"NotificationsFailing"} for b in hook.bodies())
