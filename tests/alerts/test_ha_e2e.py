"""The setups for more than one monitor, through real ``omniwatch run`` processes: a real
Alertmanager attached with ``alerts.alertmanager.url``, and two replicas sharing one
PostgreSQL store, of which exactly one (the lease holder) evaluates and delivers.

PostgreSQL is the shared server on 127.0.0.1:5432; each test gets a schema of its own
(the DSN's ``search_path``), dropped afterwards.  Without it, or without the Alertmanager
binary, the test skips (fails under ``CI=true``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.alertmanager import running_alertmanager, webhook_config
from tests.alerts.e2e_support import (
    CHANNEL,
    TOKEN_ENV,
    Hook,
    Targets,
    config_doc,
    events,
    kill,
    metric,
    notifications,
    running,
    slack_settings,
    write_config,
)
from tests.procs import OmniwatchProcess, wait_for
from tests.slack_server import TOKEN, SlackServer
from tests.stores import PG_DSN, postgres_available
from tests.support import require

pytestmark = pytest.mark.slow

QUIET_SECONDS = 4.0  # a few evaluations and group flushes (1 s and 2 s)
# The lease passes on once its holder stopped renewing it for 15 s.
TAKEOVER_TIMEOUT = 40.0


@pytest.fixture
def targets() -> Iterator[Targets]:
    with Targets() as server:
        yield server


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A DSN whose ``search_path`` is a fresh schema of the shared PostgreSQL."""
    require(postgres_available(), "PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = f"ow_e2e_{secrets.token_hex(4)}"
    name = sql.Identifier(schema)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
    try:
        yield f"{PG_DSN} options='-csearch_path={schema}'"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))


# --- Alertmanager ----------------------------------------------------------------------

def _listed(am_alerts: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    return [a for a in am_alerts if a["labels"].get("target") == target]


def _notified(hook: Hook, target: str, status: str) -> list[dict[str, Any]]:
    """What Alertmanager told its webhook receiver of ``target`` with ``status``."""
    return [a for body in hook.bodies() for a in body.get("alerts", [])
            if a["labels"].get("target") == target and a["status"] == status]


def _one(found: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What ``found`` returns once it returns something."""
    wait_for(found, timeout=30)
    return found()


def _time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_alertmanager_shows_our_alerts_while_firing_and_hears_them_resolve(
        tmp_path: Path, targets: Targets) -> None:
    with Hook() as hook, running_alertmanager(tmp_path, webhook_config(hook.url)) as am:
        cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
            {"sqlite": str(tmp_path / "omniwatch.db")},
            {"app": [targets.target("app-a"), targets.target("app-b")]},
            {"alertmanager": {"url": am.url}}))
        targets.fail("app-a")
        with running(cfg, "am") as proc:
            [alert] = _one(lambda: _listed(am.get("/api/v2/alerts"), "app-a"))
            assert {k: alert["labels"][k] for k in ("alertname", "channel", "severity")} == {
                "alertname": "TargetDown", "channel": "app", "severity": "warning"}
            assert alert["status"]["state"] == "active"
            assert "app-a in app is down" in alert["annotations"]["summary"]
            assert _listed(am.get("/api/v2/alerts"), "app-b") == []
            wait_for(lambda: _notified(hook, "app-a", "firing"), timeout=30)

            targets.recover("app-a")
            # Alertmanager 0.25 lists no alert whose endsAt has passed; what it notifies
            # shows the resolution.
            [resolved] = _one(lambda: _notified(hook, "app-a", "resolved"))
            # The same alert (its API shows milliseconds, its webhook microseconds), ended.
            starts, ends = _time(resolved["startsAt"]), _time(resolved["endsAt"])
            assert abs(starts - _time(alert["startsAt"])) < 0.001
            assert ends > starts
            assert _listed(am.get("/api/v2/alerts"), "app-a") == []
            assert notifications(proc, "delivered", provider="alertmanager") == 2
            assert notifications(proc, "failed", provider="alertmanager") == 0


# --- replicas --------------------------------------------------------------------------

def leader(proc: OmniwatchProcess) -> float | None:
    return metric(proc, "omniwatch_alerts_leader")


def delivered(proc: OmniwatchProcess) -> list[str]:
    """The kinds of the notifications ``proc`` delivered, in order."""
    return [str(e["kind"]) for e in events(proc, "notification_delivered")]


@pytest.mark.postgres
def test_two_replicas_on_one_postgres_store_one_delivers_and_the_other_takes_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, targets: Targets, pg_dsn: str) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with SlackServer() as slack:
        cfg = write_config(tmp_path / "omniwatch.yaml", config_doc(
            {"postgres": pg_dsn}, {"app": [targets.target("app-a")]},
            {"slack": slack_settings(slack)}))
        with running(cfg, "replica-a") as a:
            wait_for(lambda: leader(a) == 1, timeout=30)
            with running(cfg, "replica-b") as b:
                targets.fail("app-a")
                wait_for(lambda: slack.messages(CHANNEL), timeout=30)
                time.sleep(QUIET_SECONDS)
                # One holds the lease, the other stands by: only the holder posted.
                assert (leader(a), leader(b)) == (1, 0)
                assert len(slack.posts()) == 1
                assert (delivered(a), delivered(b)) == (["firing"], [])

                kill(a)
                wait_for(lambda: leader(b) == 1, timeout=TAKEOVER_TIMEOUT, every=0.5)
                # The new holder takes the state as it was: nothing is notified again ...
                time.sleep(QUIET_SECONDS)
                assert len(slack.posts()) == 1
                # ... and the next change is delivered once, by it.
                targets.recover("app-a")
                wait_for(lambda: len(slack.posts()) == 2, timeout=30)
                time.sleep(QUIET_SECONDS)
                assert delivered(b) == ["resolved"]
                assert notifications(b, "delivered") == 1
    [opening] = slack.messages(CHANNEL)
    [reply] = slack.replies(opening.ts)
    assert reply.text.startswith("✅ RESOLVED")
    [update] = slack.updates()
    assert update.ts == opening.ts
    assert update.text.startswith("✅ RESOLVED")
