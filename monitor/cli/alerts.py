"""``omniwatch alerts list|test`` and ``omniwatch silence add|list|expire``.

They read and write the store the running monitor uses (its alert state, silences and
outbox); a silence added here mutes at the monitor's next evaluation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from alerts.config import Matcher, parse_matcher
from alerts.engine import test_notification
from alerts.model import Silence
from alerts.store import StateChange
from alerts.views import current_alerts, silence_dict
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, duration_arg
from monitor.config.model import Config
from monitor.tables import format_table

DEFAULT_SILENCE_SECONDS = 3600.0


def _store(config: Config) -> Any:
    from monitor.store import open_store

    return open_store(config.store)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ago(ts: float, now: float) -> str:
    from monitor.config.values import format_duration

    return format_duration(max(0.0, round(now - ts)))


def cmd_list(config: Config, args: argparse.Namespace) -> int:
    """Print the firing and pending alerts."""
    store = _store(config)
    now = time.time()
    try:
        alerts = current_alerts(store, config.alerts, now)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"alerts": alerts}, indent=2))
        return EXIT_OK
    if not alerts:
        print("no firing or pending alerts")
        return EXIT_OK
    rows = [["STATE", "ALERT", "SEVERITY", "CHANNEL", "TARGET", "SINCE", "SILENCED BY"]]
    for a in alerts:
        since = a["fired_at"] or a["active_since"]
        labels = a["labels"]
        rows.append([a["status"], a["alertname"], a["severity"] or "-",
                     labels.get("channel", "-"), labels.get("target", "-"),
                     f"{_when(since)} ({_ago(since, now)})",
                     ", ".join(a["muted_by"]) or "-"])
    print("\n".join(format_table(rows)))
    return EXIT_OK


def cmd_test(config: Config, args: argparse.Namespace) -> int:
    """Send a test notification through every receiver of ``--route``."""
    cfg = config.alerts
    route = cfg.route(args.route)
    receivers = list(route.receivers) if route is not None else []
    if args.route == "alertmanager" and cfg.alertmanager is not None:
        receivers = [cfg.alertmanager]
    elif route is None:
        names = [r.name for r in (*cfg.routes, cfg.default_route)]
        raise UsageError(f"--route: no route {args.route!r} (routes: {', '.join(names)}"
                         f"{', alertmanager' if cfg.alertmanager else ''})")
    if not receivers:
        raise UsageError(f"--route: route {args.route!r} has no receiver")
    from monitor.cli.common import run_loop

    store = _store(config)
    try:
        results = run_loop(_deliver_tests(store, config, args.route, receivers, args.json))
    finally:
        store.close()
    return results


async def _deliver_tests(store: Any, config: Config, route_name: str, receivers: list[Any],
                         as_json: bool) -> int:
    from alerts.config import Route
    from alerts.outbox import Delivery, Dispatcher
    from monitor.runtime.alerting import destinations

    cfg = config.alerts
    now = time.time()
    route = cfg.route(route_name) or Route(name=route_name, matchers=(),
                                           receivers=tuple(receivers))
    notes = [test_notification(cfg, route, r, now) for r in receivers]
    # Through the outbox like any alert: the monitor (or a rerun) never sends it twice.
    await asyncio.to_thread(store.save_change, StateChange(notifications=notes))
    dests = {name: d for name, d in destinations(cfg).items()
             if name in {r.name for r in receivers}}
    outcomes: dict[str, Delivery] = {}

    def seen(d: Delivery) -> None:
        outcomes[d.notification_id] = d

    dispatcher = Dispatcher(store, dests, on_delivery=seen)
    ok = True
    report = []
    try:
        for n in notes:
            entries = await asyncio.to_thread(store.pending_notifications, n.receiver)
            entry = next((e for e in entries if e.notification.id == n.id), None)
            if entry is None:
                continue
            await dispatcher.attempt(n.receiver, entry)
            got = outcomes.get(n.id)
            delivered = got is not None and got.result in ("delivered", "recovered")
            ok &= delivered
            report.append({"receiver": n.receiver, "notification": n.id,
                           "delivered": delivered,
                           "error": None if got is None else got.error})
    finally:
        for d in dests.values():
            await d.provider.close()
    if as_json:
        print(json.dumps({"route": route_name, "results": report}, indent=2))
    else:
        for r in report:
            verdict = "delivered" if r["delivered"] else f"NOT delivered ({r['error'] or 'retry'})"
            print(f"{r['receiver']}: {verdict}")
    return EXIT_OK if ok else EXIT_FAILED


def _start(text: str | None, now: float) -> float:
    from monitor.config.values import parse_timestamp

    if text is None:
        return now
    try:  # read as a maintenance window's start is, with the same messages
        when = parse_timestamp(text)
    except ValueError as exc:
        raise UsageError(f"--start: {exc}") from None
    if when.tzinfo is None:  # a window has its tz; a command line has none to assume
        raise UsageError(f"--start: {text!r} needs a time zone (Z or +08:00)")
    return when.timestamp()


def parse_matchers(texts: list[str], flag: str = "--match") -> tuple[Matcher, ...]:
    """The matchers typed on the command line, read by the config's parser."""
    out = []
    for text in texts:
        try:
            out.append(parse_matcher(text))
        except ValueError as exc:
            raise UsageError(f"{flag}: {exc}") from None
    return tuple(out)


def cmd_silence_add(config: Config, args: argparse.Namespace) -> int:
    """Create a silence and print its id."""
    now = time.time()
    matchers = parse_matchers(args.match)
    seconds = (DEFAULT_SILENCE_SECONDS if args.duration is None
               else duration_arg("--for", args.duration))
    start = _start(args.start, now)
    if start + seconds <= now:  # stored, it would mute nothing and say "created"
        raise UsageError(f"--for: the silence would have ended already (at "
                         f"{_when(start + seconds)}, before now)")
    reason = args.reason.strip()
    if not reason:
        raise UsageError("--reason: say why (it is shown with the silence)")
    author = args.author or os.environ.get("USER") or "unknown"
    silence = Silence(id=uuid.uuid4().hex[:12], matchers=matchers, starts_at=start,
                      ends_at=start + seconds, author=author, reason=reason, created_at=now)
    store = _store(config)
    try:
        store.add_silence(silence)
    finally:
        store.close()
    if args.json:
        print(json.dumps(silence_dict(silence, now), indent=2))
    else:
        print(f"silence {silence.id} created: {', '.join(map(str, matchers))} "
              f"until {_when(silence.ends_at)} by {author}")
    return EXIT_OK


def cmd_silence_list(config: Config, args: argparse.Namespace) -> int:
    """Print the silences."""
    now = time.time()
    store = _store(config)
    try:
        silences = store.silences(now, include_expired=args.all)
    finally:
        store.close()
    docs = [silence_dict(s, now) for s in silences]
    if args.json:
        print(json.dumps({"silences": docs}, indent=2))
        return EXIT_OK
    if not docs:
        print("no silences")
        return EXIT_OK
    rows = [["ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "REASON"]]
    rows += [[d["id"], d["state"], ", ".join(d["matchers"]), _when(d["starts_at"]),
              _when(d["ends_at"]), d["author"], d["reason"]] for d in docs]
    print("\n".join(format_table(rows)))
    return EXIT_OK


def cmd_silence_expire(config: Config, args: argparse.Namespace) -> int:
    """End a silence now."""
    store = _store(config)
    try:
        ended = store.expire_silence(args.id, time.time())
    finally:
        store.close()
    if not ended:
        print(f"omniwatch silence expire: no active or future silence {args.id!r}",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"silence {args.id} expired")
    return EXIT_OK
