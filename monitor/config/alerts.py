"""From the schema-valid ``alerts:`` section (and ``labels:``) to :class:`AlertsConfig`.

The cross-field checks the schema cannot express, each reported by path
(``alerts.routes[1].slack.channel``): route names unique and not reserved, a route's
receivers resolvable against the top-level ``slack`` and ``webhook``, matchers that parse,
link templates that format, durations in range.  Every receiver is resolved here, so
nothing downstream merges settings.  No message ever repeats a token, a webhook URL or a
signing secret.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlsplit

from alerts.config import (
    DEFAULT_INHIBIT_RULES,
    DEFAULT_SLACK_API_URL,
    RULE_NAMES,
    AlertmanagerSettings,
    AlertsConfig,
    InhibitRule,
    Links,
    Matcher,
    Receiver,
    Route,
    RulesConfig,
    SlackSettings,
    Timing,
    WebhookSettings,
    parse_matcher,
)
from monitor.config.build_values import ValueChecks
from monitor.config.values import PathT, format_duration, format_path, parse_duration, parse_share
from monitor.redact import without_userinfo

LABEL_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What omniwatch itself puts on alerts: a configured label of the same name would be
# overwritten, or would overwrite it and break grouping and inhibition.
RESERVED_LABELS: Final = {
    "alertname": "the rule's name", "channel": "the channel's name",
    "target": "the target's name", "slo": "the SLO's name",
    "reference": "the consistency reference", "receiver": "where a notification went",
}
RESERVED_ROUTES: Final = {
    "default": "the route of alerts no other route takes",
    "alertmanager": "the receiver that gets every alert when alerts.alertmanager is set",
}
_SECTION: Final[PathT] = ("alerts",)
_EVALUATION_RANGE: Final = (1.0, 60.0)


class AlertChecks(ValueChecks):
    """The ``alerts:`` section and ``labels:``; mixed into
    :class:`~monitor.config.build.Builder`."""

    def labels(self, raw: Mapping[str, str] | None, path: PathT) -> tuple[tuple[str, str], ...]:
        """``labels:`` of a channel or target as sorted pairs, reserved names refused."""
        if not raw:
            return ()
        for name in raw:
            if name in RESERVED_LABELS:
                self.problem((*path, name), f"{name!r} is a reserved label: omniwatch sets it "
                             f"({RESERVED_LABELS[name]}); choose another name")
        return tuple(sorted((k, v) for k, v in raw.items() if k not in RESERVED_LABELS))

    def alerts(self, raw: Mapping[str, Any]) -> AlertsConfig:
        """The whole section; an absent one is ``AlertsConfig()`` (no receiver at all)."""
        slack = None if raw.get("slack") is None else self.part(
            None, self.top_slack, raw["slack"], (*_SECTION, "slack"))
        webhook = None if raw.get("webhook") is None else self.part(
            None, self.top_webhook, raw["webhook"], (*_SECTION, "webhook"))
        group_by = tuple(raw.get("group_by", AlertsConfig().default_route.group_by))
        timing = self.timing(raw, _SECTION, Timing())
        routes: list[Route] = []
        seen: dict[str, str] = {}
        for i, rraw in enumerate(raw.get("routes", [])):
            route = self.part(None, self.route, rraw, (*_SECTION, "routes", i), seen,
                              group_by, timing, slack, webhook)
            if route is not None:
                routes.append(route)
        default = Route(name="default", matchers=(), receivers=_default_receivers(
            slack, webhook), group_by=group_by, timing=timing)
        manager = raw.get("alertmanager")
        inhibit = raw.get("inhibit")
        return AlertsConfig(
            routes=tuple(routes),
            default_route=default,
            alertmanager=None if manager is None else self.part(
                None, self.alertmanager, manager, (*_SECTION, "alertmanager")),
            rules=self.part(RulesConfig(), self.rules, raw.get("rules", {})),
            inhibit=DEFAULT_INHIBIT_RULES if inhibit is None else self.part(
                DEFAULT_INHIBIT_RULES, self.inhibit_rules, inhibit),
            links=self.part(Links(), self.links, raw.get("links", {})),
            evaluation_interval_seconds=self.evaluation_interval(raw.get("evaluation_interval")),
            external_url=None if "external_url" not in raw else self.url(
                raw["external_url"], (*_SECTION, "external_url")),
        )

    def url(self, raw: str, path: PathT) -> str:
        """``raw``, refused when its host or port cannot be read (the schema checked the
        scheme); a webhook URL, a credential, is never shown."""
        try:
            urlsplit(raw).port  # noqa: B018 - reading it is the check
        except ValueError:
            why = "its host or port cannot be read"
            if path[-1] == "webhook_url":
                self.problem(path, f"is not a valid URL ({why}; the value is not shown: it "
                             "is a secret)")
            else:
                self.problem(path, f"{self.show(path, without_userinfo(raw))} is not a valid "
                             f"URL ({why})")
        return raw

    # -- receivers -----------------------------------------------------------------------

    def top_slack(self, raw: Mapping[str, Any], path: PathT) -> SlackSettings:
        # Mode (token xor webhook_url, token with channel) is the schema's to check.
        base = SlackSettings()
        if "webhook_url" in raw and "token" not in raw and "channel" in raw:
            self.problem((*path, "channel"), _NO_WEBHOOK_CHANNEL)
        api_url = self.url(raw.get("api_url", DEFAULT_SLACK_API_URL), (*path, "api_url"))
        return SlackSettings(
            token=raw.get("token"),
            channel=raw.get("channel") if "token" in raw else None,
            webhook_url=None if "token" in raw or "webhook_url" not in raw else self.url(
                raw["webhook_url"], (*path, "webhook_url")),
            # slack-sdk joins base_url and the method name as strings.
            api_url=api_url if api_url.endswith("/") else f"{api_url}/",
            min_interval_seconds=self.duration(raw.get("min_interval"), (*path, "min_interval"),
                                               base.min_interval_seconds),
            timeout_seconds=self.duration(raw.get("timeout"), (*path, "timeout"),
                                          base.timeout_seconds),
        )

    def top_webhook(self, raw: Mapping[str, Any], path: PathT) -> WebhookSettings:
        return WebhookSettings(
            url=self.url(raw["url"], (*path, "url")), secret=raw.get("secret"),
            timeout_seconds=self.duration(raw.get("timeout"), (*path, "timeout"),
                                          WebhookSettings("").timeout_seconds),
        )

    def alertmanager(self, raw: Mapping[str, Any], path: PathT) -> Receiver:
        base = AlertmanagerSettings("")
        settings = AlertmanagerSettings(
            url=self.url(raw["url"], (*path, "url")),
            resend_interval_seconds=self.duration(
                raw.get("resend_interval"), (*path, "resend_interval"),
                base.resend_interval_seconds),
            timeout_seconds=self.duration(raw.get("timeout"), (*path, "timeout"),
                                          base.timeout_seconds),
        )
        return Receiver(name="alertmanager", route="alertmanager", kind="alertmanager",
                        settings=settings)

    def route_slack(self, raw: Mapping[str, Any], path: PathT,
                    top: SlackSettings | None) -> SlackSettings | None:
        # Pacing, timeout and API URL come from the top level when there is one.
        base = top or SlackSettings()
        if "token" in raw:  # its own bot (the schema requires a channel with it)
            return replace(base, token=raw["token"], channel=raw.get("channel"),
                           webhook_url=None)
        if "webhook_url" in raw:
            if "channel" in raw:
                self.problem((*path, "channel"), _NO_WEBHOOK_CHANNEL)
            return replace(base, token=None, channel=None,
                           webhook_url=self.url(raw["webhook_url"], (*path, "webhook_url")))
        # Nothing to say of a top level the schema refused: it said why.
        top_refused = self.refused_under((*_SECTION, "slack"))
        if top is None:
            if not (top_refused or self.refused_under(path)):
                self.problem(path, "there is no alerts.slack to use: configure alerts.slack, "
                             "or give this route its own token and channel, or webhook_url")
            return None
        if "channel" in raw:
            if top.kind != "slack":
                if not top_refused:
                    self.problem((*path, "channel"), "a channel override needs bot mode, but "
                                 "alerts.slack is an incoming webhook (it posts only to the "
                                 "channel it was created for); give this route its own "
                                 "token, or its own webhook_url without channel")
                return None
            return replace(top, channel=raw["channel"])
        return top

    def route_webhook(self, raw: Mapping[str, Any], path: PathT,
                      top: WebhookSettings | None) -> WebhookSettings | None:
        if "url" in raw:
            timeout = WebhookSettings("").timeout_seconds if top is None else top.timeout_seconds
            return WebhookSettings(url=self.url(raw["url"], (*path, "url")),
                                   secret=raw.get("secret"),
                                   timeout_seconds=timeout)
        if top is None and not (self.refused_under(path)
                                or self.refused_under((*_SECTION, "webhook"))):
            self.problem(path, "there is no alerts.webhook to use: configure alerts.webhook, "
                         "or give this route its own url")
        if top is None:
            return None
        return top if "secret" not in raw else replace(top, secret=raw["secret"])

    # -- routes --------------------------------------------------------------------------

    def route(self, raw: Mapping[str, Any], path: PathT, seen: dict[str, str],
              group_by: tuple[str, ...], timing: Timing, slack: SlackSettings | None,
              webhook: WebhookSettings | None) -> Route:
        index = path[-1]
        assert isinstance(index, int)
        name = raw.get("name", f"route-{index + 1}")
        where = (*path, "name") if "name" in raw else path
        if name in RESERVED_ROUTES:
            self.problem(where, f"{name!r} is a reserved route name ({RESERVED_ROUTES[name]})")
        elif name in seen:
            self.problem(where, f"duplicate route name {name!r} (first used at {seen[name]})")
        seen.setdefault(name, format_path(path))
        if "slack" not in raw and "webhook" not in raw and not any(
                self.refused_under((*path, k)) for k in ("slack", "webhook")):
            self.problem(path, "a route needs a receiver: slack, webhook or both")
        receivers = []
        if "slack" in raw:
            settings = self.route_slack(raw["slack"], (*path, "slack"), slack)
            if settings is not None:
                receivers.append(Receiver(f"{name}/slack", name, settings.kind, settings))
        if "webhook" in raw:
            hook = self.route_webhook(raw["webhook"], (*path, "webhook"), webhook)
            if hook is not None:
                receivers.append(Receiver(f"{name}/webhook", name, "webhook", hook))
        return Route(
            name=name,
            matchers=(*(Matcher(k, "=", v) for k, v in raw.get("match", {}).items()),
                      *self.matchers(raw.get("matchers", []), (*path, "matchers"))),
            receivers=tuple(receivers),
            continue_=bool(raw.get("continue", False)),
            group_by=tuple(raw.get("group_by", group_by)),
            timing=self.timing(raw, path, timing),
        )

    def matchers(self, raw: list[str], path: PathT) -> tuple[Matcher, ...]:
        out = []
        for i, text in enumerate(raw):
            try:
                out.append(parse_matcher(text))
            except ValueError as exc:
                self.problem((*path, i), str(exc))
        return tuple(out)

    def timing(self, raw: Mapping[str, Any], path: PathT, base: Timing) -> Timing:
        """Grouping timers at ``path``, each inherited from ``base`` when not given."""
        wait = base.group_wait_seconds
        if "group_wait" in raw:  # 0 is allowed: notify at the first evaluation
            try:
                wait = parse_duration(raw["group_wait"])
            except ValueError as exc:
                self.problem((*path, "group_wait"), str(exc))
        return Timing(
            group_wait_seconds=wait,
            group_interval_seconds=self.duration(
                raw.get("group_interval"), (*path, "group_interval"),
                base.group_interval_seconds),
            repeat_interval_seconds=self.duration(
                raw.get("repeat_interval"), (*path, "repeat_interval"),
                base.repeat_interval_seconds),
        )

    def evaluation_interval(self, raw: Any) -> float:
        path = (*_SECTION, "evaluation_interval")
        default = AlertsConfig().evaluation_interval_seconds
        seconds = self.duration(raw, path, default)
        low, high = _EVALUATION_RANGE
        if not low <= seconds <= high:
            self.problem(path, f"{self.show(path, raw)} must be between "
                         f"{format_duration(low)} and {format_duration(high)}")
            return default
        return seconds

    # -- rules, inhibition, links --------------------------------------------------------

    def rules(self, raw: Mapping[str, Any]) -> RulesConfig:
        path = (*_SECTION, "rules")
        base = RulesConfig()
        disabled = frozenset(name for name in RULE_NAMES if raw.get(name) is False or (
            isinstance(raw.get(name), dict) and raw[name].get("enabled") is False))

        def opts(name: str) -> Mapping[str, Any]:
            spec = raw.get(name)
            return spec if isinstance(spec, dict) else {}

        share = base.channel_down_share
        if "share" in opts("channel_down"):
            try:
                share = parse_share(opts("channel_down")["share"])
            except ValueError as exc:
                self.problem((*path, "channel_down", "share"), str(exc))
        return RulesConfig(
            target_down_after=int(opts("target_down").get("after", base.target_down_after)),
            target_down_resolve_after=int(opts("target_down").get(
                "resolve_after", base.target_down_resolve_after)),
            channel_down_share=share,
            cert_warn_before_seconds=self.duration(
                opts("cert_expiry").get("warn_before"), (*path, "cert_expiry", "warn_before"),
                base.cert_warn_before_seconds),
            probes_late_seconds=self.duration(
                opts("self_health").get("probes_late"), (*path, "self_health", "probes_late"),
                base.probes_late_seconds),
            disabled=disabled,
        )

    def inhibit_rules(self, raw: list[Mapping[str, Any]]) -> tuple[InhibitRule, ...]:
        found = (self.part(None, self.inhibit_rule, r, (*_SECTION, "inhibit", i))
                 for i, r in enumerate(raw))
        return tuple(r for r in found if r is not None)

    def inhibit_rule(self, raw: Mapping[str, Any], path: PathT) -> InhibitRule:
        return InhibitRule(source=self.side(raw["source"], (*path, "source")),
                           target=self.side(raw["target"], (*path, "target")),
                           equal=tuple(raw.get("equal", ())))

    def side(self, raw: Mapping[str, str] | list[str], path: PathT) -> tuple[Matcher, ...]:
        if isinstance(raw, dict):
            return tuple(Matcher(k, "=", v) for k, v in raw.items())
        return self.matchers(list(raw), path)

    def links(self, raw: Mapping[str, Any]) -> Links:
        for key in ("runbook", "dashboard"):
            if key in raw:
                self.template(raw[key], (*_SECTION, "links", key))
        return Links(runbook=raw.get("runbook"), dashboard=raw.get("dashboard"))

    def template(self, raw: str, path: PathT) -> None:
        """Refuse a link template that would not format with label values alone."""
        shown = self.show(path, raw)
        try:
            fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(raw)
                      if f is not None]
        except ValueError as exc:
            self.problem(path, f"{shown} is not a link template: {exc} (placeholders are "
                         "{label}; write {{ and }} for literal braces)")
            return
        for field, spec, conv in fields:
            if field == "" or field.isdigit():
                self.problem(path, f"{shown}: {{{field}}} is positional; a placeholder is a "
                             "label name, as in {channel}")
            elif not LABEL_NAME.fullmatch(field):
                self.problem(path, f"{shown}: {field!r} is not a label name")
            elif spec or conv:
                self.problem(path, f"{shown}: write {{{field}}}; placeholders take no "
                             "format spec or conversion")


_NO_WEBHOOK_CHANNEL: Final = (
    "an incoming webhook posts only to the channel it was created for; remove channel, or "
    "use token and channel (bot mode)")


def _default_receivers(slack: SlackSettings | None,
                       webhook: WebhookSettings | None) -> tuple[Receiver, ...]:
    """The default route's receiver: the top-level Slack, else the top-level webhook."""
    if slack is not None:
        return (Receiver("default/slack", "default", slack.kind, slack),)
    if webhook is not None:
        return (Receiver("default/webhook", "default", "webhook", webhook),)
    return ()
