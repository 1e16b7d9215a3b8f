"""Every ``omniwatch`` command and option, declared in one place.

Only argparse is imported here: ``--help`` and ``--version`` must answer in a few tens of
milliseconds, so nothing a command needs to *run* is loaded to describe it
(``bench/startup.py`` measures this; ``tests/cli/test_startup.py`` guards it).  Choices
that mirror a registry elsewhere are spelled out and checked against it by a test.
"""

from __future__ import annotations

import argparse

from monitor import __version__

SubParsers = argparse._SubParsersAction  # argparse names no public type for it

# Mirrors of monitor.slo.render.RENDERERS and monitor.consistency.run.MODES.
REPORT_FORMATS = ("csv", "html", "json", "table")
CONSISTENCY_MODES = ("full", "checksum", "sample")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="log line format on stderr (default: text)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   default="info", help="least severe level logged (default: info)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="omniwatch",
        description="Channel availability and cross-channel consistency monitor.",
        epilog="Exit codes: 0 all good, 1 a probe or check failed, 2 usage or config error.")
    parser.add_argument("--version", action="version", version=f"omniwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the monitor: probes, /metrics, API, alerts",
                         description="Run the monitor until SIGTERM: probes on schedule, "
                                     "history in the store, /metrics and /api/v1 on "
                                     "server.listen, consistency checks, and the alert rules "
                                     "with delivery to the alerts: receivers (Slack, "
                                     "Alertmanager, webhook). SIGHUP or POST /-/reload "
                                     "re-reads the config; a bad config is refused and the "
                                     "old one keeps running.")
    run.add_argument("-c", "--config", required=True, metavar="FILE", help="configuration file")
    run.add_argument("--listen", metavar="HOST:PORT",
                     help="override server.listen (port 0 picks a free port)")
    _add_common(run)

    probe = sub.add_parser(
        "probe", help="probe targets now and print the outcome",
        description="Probe configured targets (by --channel/--target) or an ad-hoc URL now. "
                    "Exit 0 if every probe succeeded, 1 if any failed.",
        epilog="examples:\n  omniwatch probe -c omniwatch.yaml --channel branch\n"
               "  omniwatch probe https://app.example/health --expect-status 200 --count 20\n"
               "  omniwatch probe tcp://10.1.2.3:8583 --json\n"
               "  omniwatch probe tls://app.example:443 --min-valid 14d\n"
               "  omniwatch probe 'dns://10.0.0.53/app.example?type=A'",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument("url", nargs="?", metavar="URL",
                       help="ad-hoc http(s)://…, tcp://host:port, tcps://…, tls://host:port "
                            "or dns://[server[:port]]/name[?type=MX]")
    probe.add_argument("-c", "--config", metavar="FILE", help="configuration file")
    probe.add_argument("--channel", action="append", metavar="C",
                       help="probe every target of channel C (repeatable)")
    probe.add_argument("--target", action="append", metavar="NAME",
                       help="probe the configured target NAME (repeatable)")
    probe.add_argument("--count", type=int, default=1, metavar="N",
                       help="probe N times and summarise (success ratio, p50/p95)")
    probe.add_argument("--every", default="1s", metavar="DURATION",
                       help="pause between repeated probes (default 1s)")
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    adhoc = probe.add_argument_group("ad-hoc URL options")
    adhoc.add_argument("--timeout", default="5s", metavar="DURATION", help="default 5s")
    adhoc.add_argument("--method", help="HTTP method (default GET, POST with --body)")
    adhoc.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="repeatable")
    adhoc.add_argument("--body", help="request body")
    adhoc.add_argument("--expect-status", type=int, action="append", metavar="CODE",
                       help="accepted status (repeatable; default any 2xx)")
    adhoc.add_argument("--expect-body", metavar="REGEX",
                       help="regex the body (or tcp reply) must match")
    adhoc.add_argument("--expect-json", action="append", metavar="PATH=VALUE",
                       help="JSON field expectation, e.g. status=UP (repeatable)")
    adhoc.add_argument("--latency", metavar="DURATION",
                       help="slower successes are reported as degraded")
    adhoc.add_argument("--send", help="tcp: bytes to send after connecting")
    adhoc.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    adhoc.add_argument("--insecure", action="store_true", help="skip TLS verification")
    adhoc.add_argument("--ca-file", metavar="FILE", help="CA bundle for TLS verification")
    adhoc.add_argument("--min-valid", metavar="DURATION",
                       help="TLS: fail when the certificate expires sooner (e.g. 14d)")
    adhoc.add_argument("--confirm", type=int, default=0, metavar="N",
                       help="re-attempt a failure N times before reporting it")
    _add_common(probe)

    config = sub.add_parser("config", help="configuration tools")
    csub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    validate = csub.add_parser(
        "validate", help="check a configuration file and list every problem",
        description="Validate FILE; print every problem with its path. Exit 0 valid, 2 not.")
    validate.add_argument("file", nargs="?", metavar="FILE")
    validate.add_argument("-c", "--config", metavar="FILE", help="the same as FILE")
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    _add_slo(sub)
    _add_consistency(sub)
    _add_alerts(sub)

    demo = sub.add_parser(
        "demo", help="the whole product on loopback: simulated channels, stores, Slack",
        description="Start simulated app, website, mini-program and branch backends (healthy, "
                    "flaky, slow, an outage, opening hours, a maintenance window, a login "
                    "journey), four SQLite customer stores with seeded inconsistencies and a "
                    "local Slack, all on loopback, and monitor them; alerts arrive through "
                    "the real Slack provider and are printed as they come. Event lines are "
                    "printed always; on a terminal also a status block every 15s. Ctrl-C "
                    "stops it.")
    demo.add_argument("--duration", metavar="DURATION",
                      help="stop after this long (default: until Ctrl-C)")
    demo.add_argument("--listen", default="127.0.0.1:9470", metavar="HOST:PORT",
                      help="where to serve the status page, /metrics and the API "
                           "(default 127.0.0.1:9470; port 0 = any)")
    demo.add_argument("--db", metavar="FILE",
                      help="SQLite history file, kept after the run (default: a fresh one in "
                           "a temporary folder, removed at the end)")
    demo.add_argument("--keep", action="store_true",
                      help="keep the temporary folder (customer stores, history) and print it")
    demo.add_argument("--alertmanager", metavar="URL",
                      help="also send every alert to this Alertmanager (its v2 API)")
    _add_common(demo)
    # The demo tells its story in event lines on stdout; its log would say the same
    # things again on stderr (every failed probe is a warning), so only errors by default.
    demo.set_defaults(log_level="error")
    return parser


def _add_slo(sub: SubParsers[argparse.ArgumentParser]) -> None:
    slo = sub.add_parser(
        "slo", help="availability SLOs: SLI per window, error budget, burn rate, status",
        description="One row per SLO (and per latency objective): SLI over 1h, 1d, 7d, 30d "
                    "and the calendar month, error budget left, fastest burn rate, "
                    "burn-rate alert status and when the budget runs out at the last "
                    "hour's rate. n/a means no counted probes (STATUS NO DATA). Exit 1 if "
                    "any SLO pages or has no data.")
    slo.add_argument("-c", "--config", required=True, metavar="FILE")
    slo.add_argument("--slo", action="append", metavar="NAME", help="only this SLO (repeatable)")
    slo.add_argument("--json", action="store_true", help="machine-readable output")
    report = sub.add_parser(
        "report", help="monthly SLA report per channel and target (or --journeys)",
        description="Achieved availability vs objective, downtime, incidents and excluded "
                    "maintenance for one calendar month. Exit 1 if an objective was missed "
                    "or has no data. With --journeys: the flow-time report instead, p50 "
                    "and p95 of successful journey and browser runs per ISO week against "
                    "journeys.objectives (baseline, planned, objective); exit 1 if an "
                    "objective with data is not on track in its last week with data.")
    report.add_argument("-c", "--config", required=True, metavar="FILE")
    report.add_argument("--month", required=True, metavar="YYYY-MM")
    report.add_argument("--journeys", action="store_true",
                        help="the flow-time report of journey and browser targets")
    report.add_argument("--format", choices=REPORT_FORMATS, default="table")
    report.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    rules = sub.add_parser(
        "rules", help="Prometheus recording and burn-rate alert rules for the SLOs",
        description="Write Prometheus rules (multi-window, multi-burn-rate, SRE workbook "
                    "table) over omniwatch_probes_total; check with promtool check rules.")
    rules.add_argument("-c", "--config", required=True, metavar="FILE")
    rules.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    for p in (slo, report, rules):
        _add_common(p)


def _add_consistency(sub: SubParsers[argparse.ArgumentParser]) -> None:
    cons = sub.add_parser("consistency", help="cross-channel customer-record consistency")
    csub = cons.add_subparsers(dest="consistency_command", required=True, metavar="ACTION")
    check = csub.add_parser(
        "check", help="compare every channel's records with the reference now",
        description="Compare customer records field by field after normalisation. The "
                    "ratio is matching keys over judged keys (all keys on either side except "
                    "pending_sync). A source that fails makes its channel FAILED, never 0% "
                    "or 100%. Values shown are masked. Exit 0 if every channel meets its "
                    "objective, 1 if one is below or failed, 2 usage or config error.")
    check.add_argument("-c", "--config", required=True, metavar="FILE")
    check.add_argument("--dataset", action="append", metavar="NAME",
                       help="check only this dataset (repeatable; default: every dataset)")
    check.add_argument("--channel", action="append", metavar="C",
                       help="check only this channel (repeatable)")
    check.add_argument("--mode", choices=CONSISTENCY_MODES,
                       help="full: stream and merge everything; checksum: compare per-segment "
                            "checksums inside the databases, fetch only differing rows; "
                            "sample: random reference keys with a 95%% interval "
                            "(default: consistency.mode)")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--mismatches", metavar="OUT.csv",
                       help="write the sampled non-matching keys (masked) as CSV")
    check.add_argument("--no-history", action="store_true",
                       help="do not record this run in the history store")
    history = csub.add_parser("history", help="past consistency runs from the history store")
    history.add_argument("-c", "--config", required=True, metavar="FILE")
    history.add_argument("--since", default="7d", metavar="DURATION", help="default 7d")
    history.add_argument("--channel", metavar="C")
    history.add_argument("--dataset", action="append", metavar="NAME",
                         help="only this dataset's runs (repeatable; default: every dataset)")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    for p in (check, history):
        _add_common(p)


def _add_alerts(sub: SubParsers[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser("alerts", help="alerts known to the monitor; test a route",
                            description="Read the alert state the running monitor keeps in "
                                        "its store, or send a test message through a route.")
    asub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    ls = asub.add_parser("list", help="firing and pending alerts, since when, silenced by",
                         description="Firing and pending alerts from the store (what the "
                                     "running monitor decided at its last evaluation): "
                                     "state, alert, severity, channel, target, since when, "
                                     "and what mutes it (SILENCED BY: the silence ids, or "
                                     "inhibited:FINGERPRINT of the alert inhibiting it).")
    ls.add_argument("-c", "--config", required=True, metavar="FILE")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(ls)
    test = asub.add_parser(
        "test", help="send a test message through a route's receivers",
        description="Write a test notification for every receiver of the route to the "
                    "outbox and deliver it now, through the real provider; exit 1 if one "
                    "was not accepted.",
        epilog="routes: 'default', the routes' names (route-N when unnamed), 'alertmanager'")
    test.add_argument("-c", "--config", required=True, metavar="FILE")
    test.add_argument("--route", required=True, metavar="NAME", help="the route to test")
    test.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(test)

    silence = sub.add_parser("silence", help="mute alerts for a while",
                             description="Silences mute every alert whose labels match all "
                                         "their matchers, from start to end.")
    ssub = silence.add_subparsers(dest="silence_command", required=True, metavar="ACTION")
    add = ssub.add_parser(
        "add", help="create a silence",
        description="Mute every alert whose labels match all --match matchers, from --start "
                    "for --for; prints the silence's id (for silence expire).  The running "
                    "monitor applies it at its next evaluation.",
        epilog="example:\n  omniwatch silence add -c omniwatch.yaml --match channel=branch "
               "--for 2h --reason 'core upgrade CHG-1234'",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("-c", "--config", required=True, metavar="FILE")
    add.add_argument("--match", action="append", required=True, metavar="MATCHER",
                     help="NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX (regexes are "
                          "anchored); repeat: all must match")
    add.add_argument("--for", dest="duration", metavar="DURATION",
                     help="how long from its start (e.g. 2h, 30m; default 1h)")
    add.add_argument("--start", metavar="TIME",
                     help="when it starts: ISO 8601 with an offset, e.g. "
                          "2026-12-01T22:00:00+08:00 (default: now)")
    add.add_argument("--reason", required=True, metavar="TEXT", help="why (shown with it)")
    add.add_argument("--author", metavar="NAME", help="who (default: $USER)")
    add.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(add)
    sls = ssub.add_parser("list", help="active and future silences")
    sls.add_argument("-c", "--config", required=True, metavar="FILE")
    sls.add_argument("--all", action="store_true", help="expired ones too (kept 7 days)")
    sls.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(sls)
    expire = ssub.add_parser("expire", help="end a silence now")
    expire.add_argument("-c", "--config", required=True, metavar="FILE")
    expire.add_argument("id", metavar="ID", help="the silence id (from silence list)")
    _add_common(expire)
