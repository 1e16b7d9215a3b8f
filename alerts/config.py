"""The typed ``alerts:`` section: rules, routes with their receivers, grouping, links.

Built by :mod:`monitor.config.alerts` from the validated YAML; every route's receivers are
fully resolved there (a route's ``slack: {channel: ...}`` merged over the top-level
``slack``), so nothing downstream merges settings.  Durations are seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPS: Final[tuple[MatchOp, ...]] = ("=", "!=", "=~", "!~")
ProviderKind = Literal["slack", "slack_webhook", "alertmanager", "webhook"]
DEFAULT_SLACK_API_URL: Final = "https://slack.com/api/"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher, as Alertmanager's: ``=``, ``!=``, ``=~``, ``!~``.

    Regexes are fully anchored (``=~ "page|ticket"`` does not match ``pager``).  A label
    that is absent reads as the empty string, so ``team!=ops`` matches an alert without
    ``team`` and ``team=""`` matches only such alerts.
    """

    name: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~") and self.pattern is None:
            object.__setattr__(self, "pattern", re.compile(f"(?:{self.value})\\Z"))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfies this matcher."""
        got = labels.get(self.name, "")
        if self.op == "=":
            return bool(got == self.value)
        if self.op == "!=":
            return bool(got != self.value)
        assert self.pattern is not None
        hit = self.pattern.match(got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value!r}".replace("'", '"')


_MATCHER = re.compile(r"\s*([^=!~\s]*)\s*(=~|!~|!=|=)\s*(.*?)\s*\Z", re.S)


def parse_matcher(text: str) -> Matcher:
    """``channel=branch``, ``severity=~"page|ticket"`` → a :class:`Matcher`.

    Raises ValueError (with a message fit for a config problem or a CLI error line) on
    text without an operator, an invalid label name, or a regex that does not compile.
    """
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a matcher (want NAME=VALUE, NAME!=VALUE, "
                         f"NAME=~REGEX or NAME!~REGEX)")
    name, op, value = m.group(1), m.group(2), m.group(3)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{text!r}: {name!r} is not a label name")
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: invalid regex: {exc}") from None
    return Matcher(name, op, value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """A Slack destination: bot mode (``token`` and ``channel``) or an incoming webhook."""

    token: str | None = None
    channel: str | None = None
    webhook_url: str | None = None
    api_url: str = DEFAULT_SLACK_API_URL
    # Slack accepts about one message per second per channel; a storm is queued at this pace.
    min_interval_seconds: float = 1.0
    timeout_seconds: float = 10.0

    @property
    def kind(self) -> ProviderKind:
        return "slack" if self.token else "slack_webhook"

    def __repr__(self) -> str:  # never print a secret
        return (f"SlackSettings(kind={self.kind!r}, channel={self.channel!r}, "
                f"api_url={self.api_url!r})")


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """Alertmanager's v2 API: firing alerts re-sent every ``resend_interval``."""

    url: str
    resend_interval_seconds: float = 60.0
    # Resolved alerts are re-sent (endsAt in the past) this long, in case one post is lost.
    resolved_resend_seconds: float = 300.0
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """A generic JSON webhook, Alertmanager-shaped body, signed as Standard Webhooks do."""

    url: str
    secret: str | None = None
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # never print a secret
        return f"WebhookSettings(url={self.url!r}, signed={self.secret is not None})"


Settings = SlackSettings | AlertmanagerSettings | WebhookSettings


@dataclass(frozen=True, slots=True)
class Receiver:
    """One destination of one route; ``name`` is ``ROUTE/PROVIDER`` (``default/slack``)."""

    name: str
    route: str
    kind: ProviderKind
    settings: Settings


@dataclass(frozen=True, slots=True)
class Timing:
    """Alertmanager's grouping timers."""

    group_wait_seconds: float = 30.0
    group_interval_seconds: float = 300.0
    repeat_interval_seconds: float = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Route:
    """Alerts whose labels satisfy every matcher go to ``receivers``.

    Routes are tried in order; the first that matches takes the alert unless it says
    ``continue``, in which case later routes are tried too.  An alert no route takes goes
    to the default route.  ``group_by`` and ``timing`` are resolved (inherited) at load.
    """

    name: str
    matchers: tuple[Matcher, ...]
    receivers: tuple[Receiver, ...]
    continue_: bool = False
    group_by: tuple[str, ...] = ("alertname", "channel")
    timing: Timing = Timing()


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same
    values of every ``equal`` label are muted (a channel outage mutes its targets)."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()


DEFAULT_INHIBIT_RULES: Final = (
    InhibitRule(source=(Matcher("alertname", "=", "ChannelDown"),),
                target=(Matcher("alertname", "=", "TargetDown"),), equal=("channel",)),
)


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """Thresholds of the built-in rules; a rule named in ``disabled`` never fires."""

    target_down_after: int = 3
    target_down_resolve_after: int = 2
    channel_down_share: float = 0.5
    cert_warn_before_seconds: float = 14 * 86400.0
    # A self-health alert when the mean start delay of probes over the last evaluation
    # interval passes this (the scheduler cannot keep up).
    probes_late_seconds: float = 5.0
    disabled: frozenset[str] = frozenset()

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled


RULE_NAMES: Final = ("target_down", "channel_down", "burn_rate", "budget_exhausted",
                     "consistency", "cert_expiry", "self_health")


@dataclass(frozen=True, slots=True)
class Links:
    """URL templates; ``{label}`` is replaced by the alert's label value (URL-quoted)."""

    runbook: str | None = None
    dashboard: str | None = None


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """The whole ``alerts:`` section."""

    routes: tuple[Route, ...] = ()
    default_route: Route = Route(name="default", matchers=(), receivers=())
    alertmanager: Receiver | None = None
    rules: RulesConfig = RulesConfig()
    inhibit: tuple[InhibitRule, ...] = DEFAULT_INHIBIT_RULES
    links: Links = Links()
    # How often the rules run and groups are flushed.
    evaluation_interval_seconds: float = 5.0
    # Base of generatorURL and of "open in omniwatch" links (the status page).
    external_url: str | None = None

    @property
    def receivers(self) -> tuple[Receiver, ...]:
        """Every receiver, each once: routes in order, the default route, Alertmanager."""
        out = [r for route in (*self.routes, self.default_route) for r in route.receivers]
        if self.alertmanager is not None:
            out.append(self.alertmanager)
        return tuple(out)

    def route(self, name: str) -> Route | None:
        for r in (*self.routes, self.default_route):
            if r.name == name:
                return r
        return None
