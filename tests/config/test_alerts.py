"""The ``alerts:`` section, ``labels:`` and ``server.api_token``: typed values, every
cross-field rule with its exact message and path, and secrets that never reach a message.

Fixtures for the main invalid cases are ``testdata/invalid-alerts-*.yml`` (run by
``test_loader``); here each rule is pinned one by one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.config import (
    DEFAULT_INHIBIT_RULES,
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
)
from monitor.cli import main
from monitor.config import ConfigError, parse_config
from monitor.config.model import Config

ENV = {
    "SLACK_BOT_TOKEN": "xoxb-bot-s3cret",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/hook-s3cret",
    "WEBHOOK_SECRET": "whsec-s3cret",
    "OMNIWATCH_API_TOKEN": "api-s3cret",
}
SECRETS = ("s3cret", "xoxb-", "hooks.slack.com")

# The issue's example, as given.
ISSUE_EXAMPLE = """
channels:
  branch:
    labels: {team: branch-ops}
    targets:
      - {name: core-gateway, probe: tcp, host: 10.1.2.3, port: 8583, labels: {severity: page}}
alerts:
  slack: {token: "${SLACK_BOT_TOKEN}", channel: "#channel-reliability"}
  alertmanager: {url: "http://alertmanager:9093"}
  webhook: {url: "https://hooks.internal/omniwatch", secret: "${WEBHOOK_SECRET}"}
  rules:
    target_down: {after: 3, resolve_after: 2}
    channel_down: {share: 50%}
    cert_expiry: {warn_before: 14d}
  group_by: [alertname, channel]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - {match: {channel: branch}, slack: {channel: "#branch-oncall"}}
    - {match: {severity: ticket}, webhook: {}, continue: true}
  links: {runbook: "https://wiki/runbooks/{alertname}", dashboard: "https://grafana/d/omniwatch?var-channel={channel}"}
"""


def load(text: str) -> Config:
    return parse_config(text, file="c.yml", env=ENV)


def alerts(text: str) -> AlertsConfig:
    return load(f"alerts:\n{text}").alerts


def problems(text: str) -> list[str]:
    """Every problem of ``text`` as ``path: message``; asserts no secret is in any."""
    with pytest.raises(ConfigError) as info:
        load(text)
    for secret in SECRETS:
        assert secret not in str(info.value)
    return [f"{p.path}: {p.message}" for p in info.value.problems]


def alert_problems(text: str) -> list[str]:
    return problems(f"alerts:\n{text}")


# -- the whole section ------------------------------------------------------------------


def test_the_issue_example_builds_exactly() -> None:
    config = load(ISSUE_EXAMPLE)
    (branch,) = config.channels
    assert branch.labels == (("team", "branch-ops"),)
    assert branch.targets[0].labels == (("severity", "page"),)
    bot = SlackSettings(token=ENV["SLACK_BOT_TOKEN"], channel="#channel-reliability")
    hook = WebhookSettings(url="https://hooks.internal/omniwatch", secret=ENV["WEBHOOK_SECRET"])
    timing = Timing(30.0, 300.0, 4 * 3600.0)
    group_by = ("alertname", "channel")
    oncall = SlackSettings(token=ENV["SLACK_BOT_TOKEN"], channel="#branch-oncall")
    assert config.alerts == AlertsConfig(
        routes=(
            Route(name="route-1", matchers=(Matcher("channel", "=", "branch"),),
                  receivers=(Receiver("route-1/slack", "route-1", "slack", oncall),),
                  group_by=group_by, timing=timing),
            Route(name="route-2", matchers=(Matcher("severity", "=", "ticket"),),
                  receivers=(Receiver("route-2/webhook", "route-2", "webhook", hook),),
                  continue_=True, group_by=group_by, timing=timing),
        ),
        default_route=Route(name="default", matchers=(),
                            receivers=(Receiver("default/slack", "default", "slack", bot),),
                            group_by=group_by, timing=timing),
        alertmanager=Receiver("alertmanager", "alertmanager", "alertmanager",
                              AlertmanagerSettings(url="http://alertmanager:9093")),
        rules=RulesConfig(target_down_after=3, target_down_resolve_after=2,
                          channel_down_share=0.5, cert_warn_before_seconds=14 * 86400.0),
        inhibit=DEFAULT_INHIBIT_RULES,
        links=Links(runbook="https://wiki/runbooks/{alertname}",
                    dashboard="https://grafana/d/omniwatch?var-channel={channel}"),
    )
    assert [r.name for r in config.alerts.receivers] == [
        "route-1/slack", "route-2/webhook", "default/slack", "alertmanager"]


def test_no_section_and_an_empty_section_are_the_defaults() -> None:
    assert load("channels: {}").alerts == AlertsConfig()
    assert load("alerts: {}").alerts == AlertsConfig()
    assert AlertsConfig().receivers == ()


def test_secrets_stay_out_of_every_repr() -> None:
    config = load(ISSUE_EXAMPLE + 'server: {api_token: "${OMNIWATCH_API_TOKEN}"}\n')
    assert config.server.api_token == ENV["OMNIWATCH_API_TOKEN"]
    shown = repr(config)
    for secret in SECRETS:
        assert secret not in shown


# -- labels ----------------------------------------------------------------------------


def test_labels_are_sorted_pairs() -> None:
    config = load("channels: {app: {labels: {zone: b, team: app, a_1: x}, targets: [\n"
                  "  {name: t, probe: tcp, host: h, port: 1, labels: {_x: '1', team: t}}]}}")
    (app,) = config.channels
    assert app.labels == (("a_1", "x"), ("team", "app"), ("zone", "b"))
    assert app.targets[0].labels == (("_x", "1"), ("team", "t"))


@pytest.mark.parametrize("name", ["alertname", "channel", "target", "slo", "reference",
                                  "receiver"])
def test_reserved_label_names_are_refused(name: str) -> None:
    (found,) = problems(f"channels: {{app: {{labels: {{{name}: x}}}}}}")
    assert found.startswith(f"channels.app.labels.{name}: {name!r} is a reserved label: "
                            "omniwatch sets it (")
    assert found.endswith("); choose another name")


def test_label_names_and_values() -> None:
    assert problems(
        'channels: {app: {labels: {"1st": a, "a-b": b, empty: "", code: 500, flag: true},'
        " targets: [{name: t, probe: tcp, host: h, port: 1, labels: {target: x, n: 1.5}}]}}"
    ) == [
        "channels.app.labels.1st: '1st' is not a label name (use letters, digits and '_', "
        "not starting with a digit)",
        "channels.app.labels.a-b: 'a-b' is not a label name (use letters, digits and '_', "
        "not starting with a digit)",
        "channels.app.labels.code: must be a string, got 500 (quote it)",
        "channels.app.labels.empty: must not be empty",
        "channels.app.labels.flag: must be a string, got true (quote it)",
        "channels.app.targets[0].labels.n: must be a string, got 1.5 (quote it)",
        "channels.app.targets[0].labels.target: 'target' is a reserved label: omniwatch sets "
        "it (the target's name); choose another name",
    ]


# -- server.api_token ------------------------------------------------------------------


def test_api_token() -> None:
    assert load("channels: {}").server.api_token is None
    assert load('server: {api_token: "${OMNIWATCH_API_TOKEN}"}').server.api_token == (
        "api-s3cret")
    assert problems('server: {api_token: ""}') == ["server.api_token: must not be empty"]
    assert problems("server: {api_token: 123456789}") == [
        "server.api_token: expected a string, got a number (not shown: it is a secret)"]
    assert problems("server: {api_token: [api-s3cret]}") == [
        "server.api_token: expected a string, got a list"]


# -- slack, webhook, alertmanager --------------------------------------------------------


def test_slack_bot_and_webhook_modes() -> None:
    bot = alerts('  slack: {token: "${SLACK_BOT_TOKEN}", channel: C012, '
                 "api_url: http://127.0.0.1:9/api, min_interval: 250ms, timeout: 3s}")
    (receiver,) = bot.default_route.receivers
    assert receiver == Receiver("default/slack", "default", "slack", SlackSettings(
        token="xoxb-bot-s3cret", channel="C012", api_url="http://127.0.0.1:9/api/",
        min_interval_seconds=0.25, timeout_seconds=3.0))
    hook = alerts('  slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}')
    (receiver,) = hook.default_route.receivers
    assert receiver.kind == "slack_webhook"
    assert receiver.settings == SlackSettings(webhook_url=ENV["SLACK_WEBHOOK_URL"])


def test_slack_mode_problems() -> None:
    assert alert_problems('  slack: {token: "${SLACK_BOT_TOKEN}"}') == [
        "alerts.slack: 'channel' is required when 'token' is set"]
    assert alert_problems("  slack: {channel: '#x'}") == [
        "alerts.slack: needs token and channel (bot mode) or webhook_url (incoming webhook)"]
    assert alert_problems('  slack: {token: "${SLACK_BOT_TOKEN}", channel: "#x", '
                          'webhook_url: "${SLACK_WEBHOOK_URL}"}') == [
        "alerts.slack: choose one Slack mode: token and channel (bot) or webhook_url "
        "(incoming webhook), not both"]
    assert alert_problems('  slack: {webhook_url: "${SLACK_WEBHOOK_URL}", channel: "#x"}') == [
        "alerts.slack.channel: an incoming webhook posts only to the channel it was created "
        "for; remove channel, or use token and channel (bot mode)"]
    assert alert_problems("  slack: {token: t, channel: c, api_url: slack.com/api}") == [
        "alerts.slack.api_url: 'slack.com/api' is not an http(s) URL"]


def test_webhook_and_alertmanager() -> None:
    got = alerts("  webhook: {url: 'https://h.example/in', timeout: 2s}\n"
                 "  alertmanager: {url: 'http://127.0.0.1:9093', resend_interval: 30s, "
                 "timeout: 4s}\n  external_url: https://omniwatch.example/")
    assert got.default_route.receivers == (Receiver(
        "default/webhook", "default", "webhook",
        WebhookSettings("https://h.example/in", None, 2.0)),)
    assert got.alertmanager == Receiver("alertmanager", "alertmanager", "alertmanager",
                                        AlertmanagerSettings("http://127.0.0.1:9093", 30.0,
                                                             timeout_seconds=4.0))
    assert got.external_url == "https://omniwatch.example/"
    assert alert_problems("  webhook: {secret: x}\n  alertmanager: {url: 'am:9093'}\n"
                          "  external_url: 'https://[::1/'") == [
        "alerts.alertmanager.url: 'am:9093' is not an http(s) URL",
        "alerts.external_url: 'https://[::1/' is not a valid URL (its host or port cannot be "
        "read)",
        "alerts.webhook: missing required key 'url'",
    ]


def test_default_route_takes_slack_else_webhook_else_nothing() -> None:
    both = alerts('  slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}\n'
                  "  webhook: {url: 'https://h.example/'}")
    assert [r.name for r in both.default_route.receivers] == ["default/slack"]
    only_manager = alerts("  alertmanager: {url: 'http://am:9093'}")
    assert only_manager.default_route.receivers == ()
    assert [r.name for r in only_manager.receivers] == ["alertmanager"]


# -- routes ----------------------------------------------------------------------------

TOP = ('  slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops", timeout: 5s}\n'
       "  webhook: {url: 'https://h.example/top', secret: top-key, timeout: 3s}\n")


def test_route_receivers_resolve_against_the_top_level() -> None:
    got = alerts(TOP + """  routes:
    - {name: ops, slack: {}, webhook: {}}
    - {name: branch, slack: {channel: "#branch"}, webhook: {secret: own-key}}
    - {name: own, slack: {token: xoxb-own, channel: "#own"}, webhook: {url: "https://o/"}}
    - {name: hooked, slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}}
""")
    by_name = {r.name: r for r in got.receivers}
    top_slack = SlackSettings(token="xoxb-bot-s3cret", channel="#ops", timeout_seconds=5.0)
    top_hook = WebhookSettings("https://h.example/top", "top-key", 3.0)
    assert by_name["ops/slack"] == Receiver("ops/slack", "ops", "slack", top_slack)
    assert by_name["ops/webhook"] == Receiver("ops/webhook", "ops", "webhook", top_hook)
    assert by_name["branch/slack"].settings == SlackSettings(
        token="xoxb-bot-s3cret", channel="#branch", timeout_seconds=5.0)
    assert by_name["branch/webhook"].settings == WebhookSettings(
        "https://h.example/top", "own-key", 3.0)
    assert by_name["own/slack"].settings == SlackSettings(
        token="xoxb-own", channel="#own", timeout_seconds=5.0)
    assert by_name["own/webhook"].settings == WebhookSettings("https://o/", None, 3.0)
    assert by_name["hooked/slack"] == Receiver("hooked/slack", "hooked", "slack_webhook",
                                               SlackSettings(
        webhook_url=ENV["SLACK_WEBHOOK_URL"], timeout_seconds=5.0))
    assert [r.name for r in got.receivers] == [
        "ops/slack", "ops/webhook", "branch/slack", "branch/webhook", "own/slack",
        "own/webhook", "hooked/slack", "default/slack"]


def test_a_route_of_its_own_needs_no_top_level() -> None:
    got = alerts("""  routes:
    - {slack: {token: xoxb-own, channel: "#own"}}
    - {slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}, webhook: {url: "https://o/"}}
""")
    assert [(r.name, r.kind) for r in got.receivers] == [
        ("route-1/slack", "slack"), ("route-2/slack", "slack_webhook"),
        ("route-2/webhook", "webhook")]
    assert got.default_route.receivers == ()


def test_route_matchers_grouping_and_timing() -> None:
    got = alerts(TOP + """  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - match: {channel: branch, team: ops}
      matchers: ['severity=~"page|ticket"', "env!=test", "zone!~eu-.*"]
      continue: true
      slack: {}
    - {slack: {}, group_by: [target, channel], group_wait: 10s, repeat_interval: 1h}
""")
    first, second = got.routes
    assert first.matchers == (
        Matcher("channel", "=", "branch"), Matcher("team", "=", "ops"),
        Matcher("severity", "=~", "page|ticket"), Matcher("env", "!=", "test"),
        Matcher("zone", "!~", "eu-.*"))
    assert first.continue_
    assert not second.continue_
    assert first.group_by == ("alertname",)
    assert first.timing == Timing(0.0, 60.0, 4 * 3600.0)
    assert second.group_by == ("target", "channel")
    assert second.timing == Timing(10.0, 60.0, 3600.0)
    assert got.default_route.timing == first.timing
    assert got.default_route.group_by == ("alertname",)


def test_route_names() -> None:
    assert alert_problems(TOP + """  routes:
    - {name: default, slack: {}}
    - {name: alertmanager, slack: {}}
    - {name: a, slack: {}}
    - {name: a, slack: {}}
    - {name: route-6, slack: {}}
    - {slack: {}}
    - {name: "a/b", slack: {}}
""") == [
        "alerts.routes[0].name: 'default' is a reserved route name (the route of alerts no "
        "other route takes)",
        "alerts.routes[1].name: 'alertmanager' is a reserved route name (the receiver that "
        "gets every alert when alerts.alertmanager is set)",
        "alerts.routes[3].name: duplicate route name 'a' (first used at alerts.routes[2])",
        "alerts.routes[5]: duplicate route name 'route-6' (first used at alerts.routes[4])",
        "alerts.routes[6].name: 'a/b' is not a valid route name (use letters, digits, '.', "
        "'_', ':' and '-', starting with a letter or digit, at most 64 characters)",
    ]


def test_route_receiver_problems() -> None:
    assert alert_problems("""  routes:
    - {match: {channel: app}}
    - {slack: {}}
    - {slack: {channel: "#x"}}
    - {webhook: {}}
    - {webhook: {secret: k}}
    - {slack: {token: xoxb-own}}
    - {slack: {webhook_url: "${SLACK_WEBHOOK_URL}", channel: "#x"}}
    - {slack: {token: t, channel: c, webhook_url: "${SLACK_WEBHOOK_URL}"}}
    - {slack: {api_url: "http://x/"}}
""") == [
        "alerts.routes[0]: a route needs a receiver: slack, webhook or both",
        "alerts.routes[1].slack: there is no alerts.slack to use: configure alerts.slack, or "
        "give this route its own token and channel, or webhook_url",
        "alerts.routes[2].slack: there is no alerts.slack to use: configure alerts.slack, or "
        "give this route its own token and channel, or webhook_url",
        "alerts.routes[3].webhook: there is no alerts.webhook to use: configure "
        "alerts.webhook, or give this route its own url",
        "alerts.routes[4].webhook: there is no alerts.webhook to use: configure "
        "alerts.webhook, or give this route its own url",
        "alerts.routes[5].slack: 'channel' is required when 'token' is set",
        "alerts.routes[6].slack.channel: an incoming webhook posts only to the channel it was "
        "created for; remove channel, or use token and channel (bot mode)",
        "alerts.routes[7].slack: choose one Slack mode: token and channel (bot) or "
        "webhook_url (incoming webhook), not both",
        "alerts.routes[8].slack: there is no alerts.slack to use: configure alerts.slack, or "
        "give this route its own token and channel, or webhook_url",
        "alerts.routes[8].slack: unknown key 'api_url' (allowed here: channel, token, "
        "webhook_url)",
    ]


def test_a_channel_override_needs_a_bot() -> None:
    assert alert_problems('  slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}\n'
                          '  routes: [{slack: {channel: "#branch"}}]') == [
        "alerts.routes[0].slack.channel: a channel override needs bot mode, but alerts.slack "
        "is an incoming webhook (it posts only to the channel it was created for); give "
        "this route its own token, or its own webhook_url without channel"]


def test_matcher_problems_are_parse_matchers_words() -> None:
    assert alert_problems(TOP + """  routes:
    - slack: {}
      matchers: ["sev=~(", "severity", "1x=y", ""]
""") == [
        "alerts.routes[0].matchers[0]: 'sev=~(': invalid regex: missing ), unterminated "
        "subpattern at position 0",
        "alerts.routes[0].matchers[1]: 'severity' is not a matcher (want NAME=VALUE, "
        "NAME!=VALUE, NAME=~REGEX or NAME!~REGEX)",
        "alerts.routes[0].matchers[2]: '1x=y': '1x' is not a label name",
        "alerts.routes[0].matchers[3]: must not be empty",
    ]


def test_a_route_that_can_never_match_is_fine() -> None:
    got = alerts(TOP + "  routes: [{slack: {}, match: {a: x}, matchers: [a=y]}]")
    assert len(got.routes[0].matchers) == 2


# -- timers ----------------------------------------------------------------------------


def test_timer_defaults_and_limits() -> None:
    got = alerts("  group_wait: 0\n  evaluation_interval: 1m")
    assert got.default_route.timing == Timing(0.0, 300.0, 4 * 3600.0)
    assert got.evaluation_interval_seconds == 60.0
    assert alerts("  evaluation_interval: 1s").evaluation_interval_seconds == 1.0
    assert alert_problems(
        "  group_by: [alertname, alertname, a-b]\n  group_wait: soon\n  group_interval: 0s\n"
        "  repeat_interval: 0\n  evaluation_interval: 500ms\n"
        "  routes: [{webhook: {url: 'https://h/'}, group_interval: 0s}]") == [
        "alerts.evaluation_interval: '500ms' must be between 1s and 1m",
        "alerts.group_by: lists 'alertname' more than once",
        "alerts.group_by[2]: 'a-b' is not a label name (use letters, digits and '_', not "
        "starting with a digit)",
        "alerts.group_interval: '0s' must be greater than zero",
        "alerts.group_wait: 'soon' is not a duration (use e.g. 500ms, 30s, 5m, 1h30m, 7d)",
        "alerts.repeat_interval: 0 must be greater than zero",
        "alerts.routes[0].group_interval: '0s' must be greater than zero",
    ]
    assert alert_problems("  evaluation_interval: 61s") == [
        "alerts.evaluation_interval: '61s' must be between 1s and 1m"]


# -- rules -----------------------------------------------------------------------------


def test_rules_thresholds_and_switches() -> None:
    got = alerts("""  rules:
    target_down: {after: 5, resolve_after: 1}
    channel_down: {share: 0.25}
    cert_expiry: {warn_before: 30d, enabled: true}
    self_health: {probes_late: 2s}
    burn_rate: false
    budget_exhausted: {enabled: false}
    consistency: true
""").rules
    assert got == RulesConfig(target_down_after=5, target_down_resolve_after=1,
                              channel_down_share=0.25, cert_warn_before_seconds=30 * 86400.0,
                              probes_late_seconds=2.0,
                              disabled=frozenset({"burn_rate", "budget_exhausted"}))
    assert not got.enabled("burn_rate")
    assert got.enabled("consistency")
    off = alerts("  rules: {target_down: {enabled: false, after: 9}, self_health: false}").rules
    assert off.disabled == frozenset({"target_down", "self_health"})
    assert off.target_down_after == 9


@pytest.mark.parametrize(("share", "ratio"), [("50%", 0.5), ("100%", 1.0), (1, 1.0),
                                               ("12.5%", 0.125), (0.01, 0.01)])
def test_channel_down_share(share: str | float, ratio: float) -> None:
    assert alerts(f"  rules: {{channel_down: {{share: {share}}}}}").rules.channel_down_share == (
        ratio)


def test_rule_problems() -> None:
    assert alert_problems("""  rules:
    target_down: {after: 0, resolve_after: 1.5}
    channel_down: {share: 0%}
    cert_expiry: {warn_before: 0s}
    self_health: {probes_late: never}
    burn_rate: {enabled: false, windows: []}
    consistency: 3
    latency: false
""") == [
        "alerts.rules: unknown key 'latency' (allowed here: budget_exhausted, burn_rate, "
        "cert_expiry, channel_down, consistency, self_health, target_down)",
        "alerts.rules.burn_rate: unknown key 'windows' (allowed here: enabled)",
        "alerts.rules.cert_expiry.warn_before: '0s' must be greater than zero",
        "alerts.rules.channel_down.share: '0%' is not a share: it must be more than 0% and "
        "at most 100%",
        "alerts.rules.consistency: expected a mapping, or true or false, got 3",
        "alerts.rules.self_health.probes_late: 'never' is not a duration (use e.g. 500ms, "
        "30s, 5m, 1h30m, 7d)",
        "alerts.rules.target_down.after: 0 is too small (the minimum is 1)",
        "alerts.rules.target_down.resolve_after: expected a whole number, got 1.5",
    ]
    assert alert_problems("  rules: {channel_down: {share: 1.5}}") == [
        "alerts.rules.channel_down.share: 1.5 is not a share: a ratio must be more than 0 "
        "and at most 1 (write 1.5% for a percentage)"]
    assert alert_problems("  rules: {channel_down: {share: half}}") == [
        "alerts.rules.channel_down.share: 'half' is not a share (use e.g. 50% or 0.5)"]


# -- inhibition and links --------------------------------------------------------------


def test_inhibit_replaces_the_default() -> None:
    assert alerts("  inhibit: []").inhibit == ()
    got = alerts("""  inhibit:
    - {source: {alertname: ChannelDown}, target: ["alertname=~TargetDown|CertExpiring"],
       equal: [channel, team]}
    - {source: ["severity=page"], target: {severity: ticket}}
""").inhibit
    assert got == (
        InhibitRule(source=(Matcher("alertname", "=", "ChannelDown"),),
                    target=(Matcher("alertname", "=~", "TargetDown|CertExpiring"),),
                    equal=("channel", "team")),
        InhibitRule(source=(Matcher("severity", "=", "page"),),
                    target=(Matcher("severity", "=", "ticket"),)),
    )


def test_inhibit_problems() -> None:
    assert alert_problems("""  inhibit:
    - {source: [], target: {}}
    - {source: ["nope"], target: {a: 1}, equal: ["1", a, a]}
    - {target: {a: b}, when: x}
""") == [
        "alerts.inhibit[0].source: must not be empty",
        "alerts.inhibit[0].target: must not be empty",
        "alerts.inhibit[1].equal: lists 'a' more than once",
        "alerts.inhibit[1].equal[0]: '1' is not a label name (use letters, digits and '_', "
        "not starting with a digit)",
        "alerts.inhibit[1].source[0]: 'nope' is not a matcher (want NAME=VALUE, NAME!=VALUE, "
        "NAME=~REGEX or NAME!~REGEX)",
        "alerts.inhibit[1].target.a: must be a string, got 1 (quote it)",
        "alerts.inhibit[2]: missing required key 'source'",
        "alerts.inhibit[2]: unknown key 'when' (allowed here: equal, source, target)",
    ]


def test_link_templates() -> None:
    got = alerts("  links: {runbook: 'https://wiki/{alertname}#{{top}}', "
                 "dashboard: 'https://g/d?var-target={target}&var-c={channel}'}")
    assert got.links == Links("https://wiki/{alertname}#{{top}}",
                              "https://g/d?var-target={target}&var-c={channel}")


@pytest.mark.parametrize(("template", "why"), [
    ("https://w/{alertname", "is not a link template: expected '}' before end of string "
                             "(placeholders are {label}; write {{ and }} for literal braces)"),
    ("https://w/}", "is not a link template: Single '}' encountered in format string "
                    "(placeholders are {label}; write {{ and }} for literal braces)"),
    ("https://w/{", "is not a link template: Single '{' encountered in format string "
                    "(placeholders are {label}; write {{ and }} for literal braces)"),
    ("https://w/{x:>3}", ": write {x}; placeholders take no format spec or conversion"),
    ("https://w/{x!r}", ": write {x}; placeholders take no format spec or conversion"),
    ("https://w/{}", ": {} is positional; a placeholder is a label name, as in {channel}"),
    ("https://w/{0}", ": {0} is positional; a placeholder is a label name, as in {channel}"),
    ("https://w/{a.b}", ": 'a.b' is not a label name"),
    ("https://w/{a[0]}", ": 'a[0]' is not a label name"),
])
def test_malformed_link_templates(template: str, why: str) -> None:
    assert alert_problems(f"  links: {{dashboard: {json.dumps(template)}}}") == [
        f"alerts.links.dashboard: {template!r}{'' if why[0] == ':' else ' '}{why}"]


# -- secrets ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "server: {api_token: 424242}",
    "server: {api_token: {s3cret: 1}}",
    "alerts: {slack: {token: 424242, channel: c}}",
    "alerts: {slack: {token: [xoxb-s3cret], channel: c}}",
    "alerts: {slack: xoxb-s3cret}",
    "alerts: {slack: {webhook_url: 424242}}",
    "alerts: {slack: {webhook_url: 'ftp://hooks.slack.com/s3cret'}}",
    "alerts: {slack: {webhook_url: 'https://hooks.slack.com:x/s3cret'}}",
    "alerts: {slack: {webhook_url: 'hooks.slack.com/services/s3cret', channel: c}}",
    "alerts: {webhook: {url: 'https://h/', secret: 424242}}",
    "alerts: {webhook: 'https://h/?token=s3cret'}",
    "alerts: {routes: [{slack: {token: 424242, channel: c}}]}",
    "alerts: {routes: [{slack: {webhook_url: 'ftp://hooks.slack.com/s3cret'}}]}",
    "alerts: {routes: [{webhook: {url: 'https://h/', secret: 424242}}]}",
    "alerts: {routes: [{slack: xoxb-s3cret}]}",
    "alerts: {routes: [{webhook: {url: 'ftp://u:s3cret@h/'}}]}",
    "alerts: {alertmanager: {url: 'http://u:s3cret@am:x'}}",
])
def test_no_message_repeats_a_secret(text: str) -> None:
    found = problems(text)  # asserts the words of SECRETS are absent
    assert found
    assert not any("424242" in p for p in found)


def test_a_secret_from_the_environment_is_named_by_its_variable() -> None:
    env = {**ENV, "TOKEN": "not-a-url-s3cret"}
    with pytest.raises(ConfigError) as info:
        parse_config('alerts: {slack: {webhook_url: "${TOKEN}"}}', file="c.yml", env=env)
    assert str(info.value) == ("c.yml: alerts.slack.webhook_url: is not an http(s) URL (the "
                               "value is not shown: it is a secret)")
    with pytest.raises(ConfigError) as info:
        parse_config('alerts: {slack: "${TOKEN}"}', file="c.yml", env=env)
    assert str(info.value) == "c.yml: alerts.slack: expected a mapping, got '${TOKEN}'"


def test_both_layers_at_once_without_echoes() -> None:
    # The schema refuses the route's token; the builder still checks the rest of the
    # route, and does not add that the route has no slack to use.
    assert alert_problems("""  routes:
    - {name: default, slack: {token: 424242, channel: c}}
    - {slack: {}}
""") == [
        "alerts.routes[0].name: 'default' is a reserved route name (the route of alerts no "
        "other route takes)",
        "alerts.routes[0].slack.token: expected a string, got a number (not shown: it is a "
        "secret)",
        "alerts.routes[1].slack: there is no alerts.slack to use: configure alerts.slack, or "
        "give this route its own token and channel, or webhook_url",
    ]
    assert alert_problems("  slack: {token: 424242, channel: c}\n"
                          "  routes: [{slack: {channel: '#x'}}, {webhook: {}}]\n"
                          "  webhook: 7") == [
        "alerts.slack.token: expected a string, got a number (not shown: it is a secret)",
        "alerts.webhook: expected a mapping, got 7",
    ]


# -- config validate -------------------------------------------------------------------


def test_validate_summarises_routes_and_receivers(tmp_path: Path, capsys: pytest.CaptureFixture[
        str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    cfg = tmp_path / "c.yml"
    last_route = "    - {match: {severity: ticket}, webhook: {}, continue: true}\n"
    cfg.write_text(ISSUE_EXAMPLE.replace(last_route, last_route + """\
    - {name: hooked, slack: {webhook_url: "${SLACK_WEBHOOK_URL}"}}
    - {name: signed, webhook: {url: "https://u:pw@h.example/in?token=abc"}}
"""))
    assert main(["config", "validate", str(cfg)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{cfg}: valid (1 targets; branch: 1)",
        "alerts: routes route-1, route-2, hooked, signed, then default; 6 receivers",
        "  route-1/slack: Slack bot to #branch-oncall",
        "  route-2/webhook: webhook https://hooks.internal/omniwatch (signed)",
        "  hooked/slack: Slack incoming webhook (its URL is a secret)",
        "  signed/webhook: webhook https://h.example/in",
        "  default/slack: Slack bot to #channel-reliability",
        "  alertmanager: Alertmanager http://alertmanager:9093",
    ]
    assert main(["config", "validate", "--json", str(cfg)]) == 0
    out = capsys.readouterr().out
    for secret in (*SECRETS, "pw", "abc"):
        assert secret not in out
    doc = json.loads(out)
    assert doc["alerts"]["routes"] == ["route-1", "route-2", "hooked", "signed", "default"]
    assert doc["alerts"]["receivers"][2] == {
        "name": "hooked/slack", "route": "hooked", "kind": "slack_webhook",
        "destination": "Slack incoming webhook (its URL is a secret)"}


def test_validate_without_alerts_says_nothing_of_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yml"
    cfg.write_text("channels: {}\n")
    assert main(["config", "validate", str(cfg)]) == 0
    assert capsys.readouterr().out == f"{cfg}: valid (0 targets)\n"


def test_the_secrets_fixture_repeats_none_of_its_secrets() -> None:
    fixture = Path(__file__).parent / "testdata" / "invalid-alerts-secrets.yml"
    with pytest.raises(ConfigError) as info:
        parse_config(fixture.read_text("utf-8"), file="f.yml", env=ENV)
    assert len(info.value.problems) == 5
    for secret in ("8675309", "5551234", "4242", "T0/B0/XYZ", "hunter2"):
        assert secret not in str(info.value)
