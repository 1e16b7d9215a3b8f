"""``omniwatch config validate``: every problem of a file, with its path, or a summary."""

from __future__ import annotations

import argparse
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alerts.config import (
    DEFAULT_SLACK_API_URL,
    AlertmanagerSettings,
    AlertsConfig,
    Receiver,
    SlackSettings,
    WebhookSettings,
)
from monitor.cli.common import EXIT_OK, EXIT_USAGE, UsageError, print_config_error
from monitor.config import ConfigError, load_config


def cmd_validate(args: argparse.Namespace) -> int:
    """Exit 0 and a summary when valid; 2 and every problem when not."""
    if (args.file is None) == (args.config is None):
        raise UsageError("give the file to check, as FILE or -c FILE (one of them)")
    args.file = args.file or args.config
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"valid": False, "problems": [
                {"file": p.file, "path": p.path, "message": p.message} for p in exc.problems]},
                indent=2))
        else:
            print_config_error(exc)
        return EXIT_USAGE
    summary = {c.name: len(c.targets) for c in config.channels}
    if args.json:
        print(json.dumps({"valid": True, "targets": summary,
                          "alerts": alerts_summary(config.alerts)}, indent=2))
    else:
        total = sum(summary.values())
        detail = ", ".join(f"{k}: {v}" for k, v in summary.items())
        print(f"{args.file}: valid ({total} targets{'; ' + detail if detail else ''})")
        for line in alerts_lines(config.alerts):
            print(line)
    return EXIT_OK


def alerts_summary(alerts: AlertsConfig) -> dict[str, Any]:
    """Routes (in the order they are tried, ``default`` last) and receivers, no secret."""
    return {
        "routes": [r.name for r in (*alerts.routes, alerts.default_route)],
        "receivers": [{"name": r.name, "route": r.route, "kind": r.kind,
                       "destination": destination(r)} for r in alerts.receivers],
    }


def alerts_lines(alerts: AlertsConfig) -> list[str]:
    """The text form of :func:`alerts_summary`; nothing when no alert is ever sent."""
    if not alerts.receivers:
        return []
    names = ", ".join(r.name for r in alerts.routes)
    routes = f"routes {names}, then default" if names else "the default route only"
    return [f"alerts: {routes}; {len(alerts.receivers)} receivers",
            *(f"  {r.name}: {destination(r)}" for r in alerts.receivers)]


def destination(receiver: Receiver) -> str:
    """Where ``receiver`` delivers, in words that hold no token, webhook URL or secret."""
    s = receiver.settings
    if isinstance(s, SlackSettings):
        via = "" if s.api_url == DEFAULT_SLACK_API_URL else f" via {_shown_url(s.api_url)}"
        if s.kind == "slack":
            return f"Slack bot to {s.channel}{via}"
        return "Slack incoming webhook (its URL is a secret)"
    if isinstance(s, WebhookSettings):
        return f"webhook {_shown_url(s.url)}{' (signed)' if s.secret else ''}"
    assert isinstance(s, AlertmanagerSettings)
    return f"Alertmanager {_shown_url(s.url)}"


def _shown_url(url: str) -> str:
    # User-info is a credential, and a query string often carries a token.
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that cannot be read)"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
