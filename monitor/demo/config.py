"""The demo's configuration: an ordinary omniwatch configuration (the same schema, the
same loader) pointed at the simulated backends, stores and Slack.

Everything is timed for a demo: probes every 2 to 5 seconds, rules every second, a
group waits 2 s, a target is down after two failed probes, consistency checks every
15 s.  The branch opens at the hour of the start and closes at a whole minute 30 to
90 s after it (service hours are minutes of the clock); the gateway's patching is a
one-off maintenance window from the backends' timing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from monitor.config import parse_config
from monitor.config.model import Config
from monitor.demo.backends import Behaviour, SyntheticAccount
from monitor.demo.slack_workspace import DEFAULT_CHANNELS

SLACK_TOKEN_ENV: Final = "OMNIWATCH_DEMO_SLACK_TOKEN"
PASSWORD_ENV: Final = "OMNIWATCH_DEMO_PASSWORD"
ALERT_CHANNEL, BRANCH_CHANNEL = tuple(DEFAULT_CHANNELS)
# The branch stays open at least this long after the start: past the core's outage and
# the resolve of its alert, so that closing hours exclude nothing the demo is showing.
OPEN_AT_LEAST_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """Where everything runs: backend ports by name, the store files, the Slack sink."""

    ports: Mapping[str, int]
    stores: Mapping[str, Path]
    db: Path
    slack_api_url: str
    started_at: float  # Unix seconds
    behaviour: Behaviour
    account: SyntheticAccount
    alertmanager: str | None = None  # every alert also goes there


@dataclass(frozen=True, slots=True)
class BranchHours:
    """The branch's opening hours today (UTC): open ``opens``, closed from ``closes``."""

    opens: datetime
    closes: datetime

    @property
    def text(self) -> str:
        return f"{self.opens:%H:%M}-{self._to} UTC"

    @property
    def _to(self) -> str:
        return "24:00" if self.closes.date() != self.opens.date() else f"{self.closes:%H:%M}"

    def config(self) -> dict[str, str]:
        return {"days": "mon-sun", "from": f"{self.opens:%H:%M}", "to": self._to, "tz": "UTC"}


def branch_hours(started_at: float) -> BranchHours:
    """Open since the hour the demo started, closing at the first whole minute at least
    :data:`OPEN_AT_LEAST_SECONDS` later.  When that is tomorrow (a start in the last half
    minute of the day) the branch is open all day instead: hours cannot cross midnight,
    and closing sooner would cut the core's outage short."""
    start = datetime.fromtimestamp(started_at, UTC)
    opens = start.replace(minute=0, second=0, microsecond=0)
    closes = datetime.fromtimestamp(
        math.ceil((started_at + OPEN_AT_LEAST_SECONDS) / 60) * 60, UTC)
    midnight = opens.replace(hour=0) + timedelta(days=1)
    if closes > midnight:
        return BranchHours(opens.replace(hour=0), midnight)
    return BranchHours(opens, closes)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _url(plan: DemoPlan, backend: str, path: str) -> str:
    return f"http://127.0.0.1:{plan.ports[backend]}{path}"


def _journey(plan: DemoPlan) -> dict[str, Any]:
    bearer = {"Authorization": "Bearer {{ token }}"}
    return {
        "name": "app-login-balance", "probe": "journey", "interval": "3s", "timeout": "2s",
        "vars": {"user": plan.account.user, "password": f"${{{PASSWORD_ENV}}}",
                 "account": plan.account.account},
        "expect": {"latency": "1s"},
        "steps": [
            {"name": "login",
             "request": {"method": "POST", "url": _url(plan, "app", "/api/login"),
                         "json": {"user": "{{ user }}", "password": "{{ password }}"}},
             "expect": {"status": [200], "json": {"code": "0"}},
             "extract": {"token": {"json": "$.data.token"}}},
            {"name": "balance",
             "request": {"url": _url(plan, "app", "/api/accounts/{{ account }}/balance"),
                         "headers": bearer},
             "expect": {"status": [200], "json_schema": {
                 "type": "object", "required": ["balance", "currency"]}}},
        ],
        "finally": [{"name": "logout", "request": {
            "method": "POST", "url": _url(plan, "app", "/api/logout"), "headers": bearer,
            "json": {}}}],
    }


def _channels(plan: DemoPlan) -> dict[str, Any]:
    return {
        "app": {"targets": [
            {"name": "app-api", "probe": "http", "url": _url(plan, "app", "/health"),
             "expect": {"status": [200], "json": {"status": "UP"}, "latency": "500ms"}},
            _journey(plan)]},
        "website": {"targets": [
            {"name": "website-home", "probe": "http", "url": _url(plan, "website", "/"),
             "interval": "3s",
             "expect": {"status": [200], "body_regex": "Welcome", "latency": "500ms"}}]},
        "miniprogram": {"targets": [
            {"name": "mini-api", "probe": "http", "url": _url(plan, "mini", "/api/ping"),
             "expect": {"status": [200], "latency": "400ms"}}]},
        "branch": {
            "service_hours": branch_hours(plan.started_at).config(),
            "targets": [
                {"name": "branch-core", "probe": "http", "url": _url(plan, "branch", "/health"),
                 "labels": {"severity": "page"}, "expect": {"status": [200]}},
                {"name": "branch-teller", "probe": "http",
                 "url": _url(plan, "branch", "/teller/health"), "interval": "5s",
                 "expect": {"status": [200], "json": {"status": "UP"}}},
                {"name": "branch-gateway", "probe": "tcp", "host": "127.0.0.1",
                 "port": plan.ports["gateway"], "send": "PING\r\n",
                 "expect": {"regex": "PONG"}}]},
    }


def _sources(plan: DemoPlan, table: str) -> dict[str, Any]:
    return {channel: {"kind": "sqlite", "path": str(path), "table": table,
                      "updated_at": "updated_at"}
            for channel, path in plan.stores.items()}


def config_document(plan: DemoPlan) -> dict[str, Any]:
    """The demo's configuration as a document (what a YAML file would hold)."""
    b = plan.behaviour
    return {
        "store": {"sqlite": str(plan.db), "flush_interval": "2s"},
        "defaults": {"interval": "2s", "timeout": "1500ms"},
        "slo": {"objective": "99.9%", "latency_objective": "95%"},
        "channels": _channels(plan),
        # The login-and-balance flow's p95 against a limit it keeps (tens of ms on
        # loopback): the flow-time families have a met objective to show.
        "journeys": {"objectives": [
            {"target": "app-login-balance", "percentile": 95, "max": "500ms"}]},
        "maintenance": [{
            "name": "gateway-patch", "targets": ["branch-gateway"],
            "start": _iso(plan.started_at + b.gateway_patch_from_seconds),
            "end": _iso(plan.started_at + b.gateway_patch_from_seconds
                        + b.gateway_patch_seconds)}],
        "consistency": {
            "objective": "99%", "grace": "1h", "max_samples": 5,
            "schedule": {"interval": "15s", "mode": "full"},
            "datasets": {
                "customers": {"reference": "branch", "key": "customer_id",
                              "fields": ["name", "phone", "id_number", "email", "risk_level"],
                              "sources": _sources(plan, "customers")},
                "accounts": {"reference": "branch", "key": ["customer_id", "account_no"],
                             "fields": ["status", "currency", "balance"],
                             "sources": _sources(plan, "accounts")}}},
        "alerts": {
            "slack": {"token": f"${{{SLACK_TOKEN_ENV}}}", "channel": ALERT_CHANNEL,
                      "api_url": plan.slack_api_url, "min_interval": "200ms"},
            "routes": [{"match": {"channel": "branch"}, "slack": {"channel": BRANCH_CHANNEL}}],
            # Off: measured over a 30-day window, one minute of history with any failure
            # has "spent" its budget, and that would bury the burn-rate pages.
            "rules": {"target_down": {"after": 2, "resolve_after": 2},
                      "budget_exhausted": False},
            "group_wait": "2s", "group_interval": "5s", "repeat_interval": "1h",
            "evaluation_interval": "1s",
            **({} if plan.alertmanager is None else {"alertmanager": {
                "url": plan.alertmanager, "resend_interval": "10s"}})},
    }


def demo_config(plan: DemoPlan, slack_token: str) -> Config:
    """The demo's :class:`Config`, through the loader every configuration goes through;
    secrets come in as environment values, as in production."""
    text = yaml.safe_dump(config_document(plan), sort_keys=False, allow_unicode=True)
    return parse_config(text, file="<demo>", env={SLACK_TOKEN_ENV: slack_token,
                                                  PASSWORD_ENV: plan.account.password})
