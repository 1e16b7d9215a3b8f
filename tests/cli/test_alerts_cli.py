"""``omniwatch alerts list|test`` and ``omniwatch silence add|list|expire`` through real
``python -m monitor`` processes, over a real SQLite store, the local Slack server
(:mod:`tests.slack_server`) and a real Alertmanager.

A value typed on the command line is checked by the same code as the same value in a
config: every bad flag value here is compared with what ``parse_config`` says of it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from alerts.model import Alert, fingerprint, labelset
from alerts.store import StateChange
from monitor.config import ConfigError, parse_config
from monitor.config.loader import config_schema
from monitor.config.values import TIMESTAMP_PATTERN
from monitor.store.sqlite import SqliteProbeStore
from tests.alertmanager import running_alertmanager
from tests.slack_server import TOKEN, SlackServer

CHANNELS = """\
channels:
  app:
    targets:
      - {name: app-api, probe: tcp, host: 127.0.0.1, port: 9}
  branch:
    labels: {team: branch-ops}
    targets:
      - {name: core-gateway, probe: tcp, host: 127.0.0.1, port: 9}
"""


def omniwatch(*args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _run_all(argvs: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:  # a few at a time: 2 cores, shared
        return list(pool.map(lambda argv: omniwatch(*argv), argvs))


def write_config(tmp_path: Path, alerts: str = "") -> Path:
    cfg = tmp_path / "omniwatch.yaml"
    cfg.write_text(f"store: {{sqlite: {tmp_path / 'omniwatch.db'}}}\n{CHANNELS}{alerts}")
    return cfg


def slack_alerts(slack: SlackServer, token: str = TOKEN) -> str:
    return (f"alerts:\n"
            f"  slack: {{token: {token}, channel: '#channel-reliability',"
            f" api_url: '{slack.api_url}'}}\n"
            "  routes:\n"
            "    - {name: branch, match: {channel: branch}, slack: {channel: '#branch-oncall'}}\n")


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def _one_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def _table(stdout: str) -> list[list[str]]:
    """Rows of a CLI table, columns split where two spaces or more separate them."""
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.strip().splitlines()]


# --- silences -----------------------------------------------------------------------


def test_silence_add_list_expire(cfg: Path) -> None:
    added = omniwatch("silence", "add", "-c", str(cfg), "--match", "channel=branch",
                      "--match", 'severity=~"page|ticket"', "--for", "2h",
                      "--reason", "core upgrade CHG-1234", "--author", "alice")
    assert added.returncode == 0, added.stderr
    m = re.fullmatch(r'silence ([0-9a-f]{12}) created: channel="branch", '
                     r'severity=~"page\|ticket" until \S+ \S+ by alice\n', added.stdout)
    assert m, added.stdout
    first = m.group(1)
    # The author defaults to $USER; --json prints the silence as the API does.
    later = omniwatch("silence", "add", "-c", str(cfg), "--match", "target!=core-gateway",
                      "--for", "30m", "--start", "2099-01-01T00:00:00Z", "--reason", "later",
                      "--json", env={"USER": "oncall-bob"})
    assert later.returncode == 0, later.stderr
    doc = json.loads(later.stdout)
    second = doc["id"]
    assert doc["author"] == "oncall-bob"
    assert doc["state"] == "pending"
    assert doc["matchers"] == ['target!="core-gateway"']
    assert doc["ends_at"] - doc["starts_at"] == 1800

    table = _table(omniwatch("silence", "list", "-c", str(cfg)).stdout)
    assert table[0] == ["ID", "STATE", "MATCHERS", "STARTS", "ENDS", "AUTHOR", "REASON"]
    rows = {r[0]: r for r in table[1:]}
    assert set(rows) == {first, second}
    assert rows[first][1:3] == ["active", 'channel="branch", severity=~"page|ticket"']
    assert rows[first][5:] == ["alice", "core upgrade CHG-1234"]
    assert rows[second][1] == "pending"
    assert rows[second][3] == "2099-01-01 00:00:00Z"
    listed = json.loads(omniwatch("silence", "list", "-c", str(cfg), "--json").stdout)
    by_id = {s["id"]: s for s in listed["silences"]}
    assert by_id[first]["ends_at"] - by_id[first]["starts_at"] == 7200
    assert by_id[first]["reason"] == "core upgrade CHG-1234"

    expired = omniwatch("silence", "expire", "-c", str(cfg), first)
    assert (expired.returncode, expired.stdout) == (0, f"silence {first} expired\n")
    now = json.loads(omniwatch("silence", "list", "-c", str(cfg), "--json").stdout)
    assert [s["id"] for s in now["silences"]] == [second]
    every = json.loads(omniwatch("silence", "list", "-c", str(cfg), "--all", "--json").stdout)
    states = {s["id"]: s["state"] for s in every["silences"]}
    assert states == {first: "expired", second: "pending"}
    table = _table(omniwatch("silence", "list", "-c", str(cfg), "--all").stdout)
    assert {r[0]: r[1] for r in table[1:]} == states

    # An id that is unknown, or already ended: one line, exit 2.
    for sid in ("0123456789ab", first):
        line = _one_line(omniwatch("silence", "expire", "-c", str(cfg), sid))
        assert line == f"omniwatch silence expire: no active or future silence {sid!r}"


def test_no_silences_says_so(cfg: Path) -> None:
    out = omniwatch("silence", "list", "-c", str(cfg))
    assert (out.returncode, out.stdout) == (0, "no silences\n")


def _config_message(alerts_yaml: str, path: str) -> str:
    """What the config loader says about the value at ``path`` of this config."""
    text = f"{CHANNELS}{alerts_yaml}"
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    found = {p.path: p.message for p in err.value.problems}
    assert path in found, found
    return found[path]


ROUTE = ("alerts:\n  webhook: {{url: 'http://127.0.0.1:9/hook'}}\n"
         "  routes: [{{matchers: [{value}], webhook: {{}}}}]\n")
INHIBIT = ("alerts:\n  inhibit:\n    - {{source: {{alertname: ChannelDown}}, "
           "target: [{value}]}}\n")
TIMER = "alerts:\n  {key}: {value}\n"
WINDOW = "maintenance:\n  - {{name: m, start: {value}, end: '2099-01-01T00:00:00Z'}}\n"

# (flag, value, config template, its key, the path the config reports)
BAD_VALUES: list[tuple[str, str, str, str, str]] = [
    ("--match", "channel", ROUTE, "", "alerts.routes[0].matchers[0]"),
    ("--match", "channel", INHIBIT, "", "alerts.inhibit[0].target[0]"),
    ("--match", "channel=~(", ROUTE, "", "alerts.routes[0].matchers[0]"),
    ("--match", "channel!~[a-", INHIBIT, "", "alerts.inhibit[0].target[0]"),
    ("--match", "1bad=x", ROUTE, "", "alerts.routes[0].matchers[0]"),
    ("--match", "team-name=x", INHIBIT, "", "alerts.inhibit[0].target[0]"),
    ("--for", "2x", TIMER, "group_interval", "alerts.group_interval"),
    ("--for", "0", TIMER, "repeat_interval", "alerts.repeat_interval"),
    ("--for", "0s", TIMER, "group_interval", "alerts.group_interval"),
    ("--for", "-1h", TIMER, "repeat_interval", "alerts.repeat_interval"),
    ("--for", "1h30", TIMER, "repeat_interval", "alerts.repeat_interval"),
    ("--start", "yesterday", WINDOW, "", "maintenance[0].start"),
    ("--start", "2026-12-01", WINDOW, "", "maintenance[0].start"),
    ("--start", "2026-13-01T00:00:00Z", WINDOW, "", "maintenance[0].start"),
]


def test_a_bad_value_is_one_line_with_the_configs_own_message(cfg: Path) -> None:
    argvs = []
    for flag, value, _, _, _ in BAD_VALUES:
        given = {"--match": ["--match", "channel=branch"], "--for": [], "--start": []}
        # --for=-1h: as a separate word argparse would take -1h for an option.
        given[flag] = [f"{flag}={value}"] if flag != "--match" else [flag, value]
        argvs.append(["silence", "add", "-c", str(cfg), "--reason", "r",
                      *(w for words in given.values() for w in words)])
    failures = []
    for (flag, value, template, key, path), out in zip(BAD_VALUES, _run_all(argvs),
                                                       strict=True):
        line = _one_line(out)
        # As a user would write it: a bare number plain, anything else quoted.
        quoted = value if re.fullmatch(r"[0-9.]+", value) else json.dumps(value)
        expected = _config_message(template.format(key=key, value=quoted), path)
        if line != f"omniwatch silence add: {flag}: {expected}":
            failures.append(f"{flag} {value!r}: CLI {line!r}, config {expected!r}")
    assert failures == [], "\n".join(failures)
    # Nothing was stored by any of them.
    assert omniwatch("silence", "list", "-c", str(cfg), "--all").stdout == "no silences\n"


def test_the_cli_reads_a_time_with_the_schemas_pattern() -> None:
    assert config_schema()["$defs"]["timestamp"]["pattern"] == TIMESTAMP_PATTERN


def test_other_bad_silence_flags(cfg: Path) -> None:
    cases = [
        (["--match", "channel=branch", "--reason", "  "], "--reason: say why"),
        (["--match", "channel=branch", "--reason", "r", "--start", "2026-12-01T22:00:00"],
         "--start: '2026-12-01T22:00:00' needs a time zone (Z or +08:00)"),
        (["--match", "channel=branch", "--reason", "r", "--start", "2020-01-01T00:00:00Z",
          "--for", "1h"], "--for: the silence would have ended already (at 2020-01-01 "
                          "01:00:00Z, before now)"),
    ]
    outs = _run_all([["silence", "add", "-c", str(cfg), *argv] for argv, _ in cases])
    for (_, expected), out in zip(cases, outs, strict=True):
        assert expected in _one_line(out)
    assert omniwatch("silence", "list", "-c", str(cfg), "--all").stdout == "no silences\n"
    missing = omniwatch("silence", "add", "-c", str(cfg), "--reason", "r")
    assert missing.returncode == 2
    assert "the following arguments are required: --match" in missing.stderr


# --- alerts list --------------------------------------------------------------------


def _alert(status: str, since: float, **labels: str) -> Alert:
    ls = labelset(labels)
    return Alert(fingerprint=fingerprint(ls), labels=ls,
                 annotations=(("reason", "connect_refused"),), status=status,  # type: ignore[arg-type]
                 active_since=since, updated_at=since,
                 fired_at=since + 30 if status == "firing" else None)


def test_alerts_list_shows_state_since_and_what_mutes_each(cfg: Path) -> None:
    now = time.time()
    outage = _alert("firing", now - 600, alertname="ChannelDown", channel="branch",
                    severity="page")
    under = _alert("firing", now - 590, alertname="TargetDown", channel="branch",
                   target="core-gateway", severity="page")
    silenced = _alert("firing", now - 300, alertname="TargetDown", channel="app",
                      target="app-api", severity="ticket")
    pending = _alert("pending", now - 20, alertname="TargetDown", channel="website",
                     target="web")
    gone = _alert("resolved", now - 900, alertname="TargetDown", channel="app", target="old")
    store = SqliteProbeStore(str(cfg.parent / "omniwatch.db"))
    try:
        store.save_change(StateChange(alerts=[outage, under, silenced, pending, gone]))
    finally:
        store.close()
    added = omniwatch("silence", "add", "-c", str(cfg), "--match", "channel=app",
                      "--reason", "app release", "--json")
    sid = json.loads(added.stdout)["id"]

    out = omniwatch("alerts", "list", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    header, *rows = _table(out.stdout)
    assert header == ["STATE", "ALERT", "SEVERITY", "CHANNEL", "TARGET", "SINCE", "SILENCED BY"]
    # Firing first, oldest first; the resolved one is not listed.
    assert [r[:5] for r in rows] == [
        ["firing", "ChannelDown", "page", "branch", "-"],
        ["firing", "TargetDown", "page", "branch", "core-gateway"],
        ["firing", "TargetDown", "ticket", "app", "app-api"],
        ["pending", "TargetDown", "-", "website", "web"],
    ]
    assert [r[6] for r in rows] == ["-", f"inhibited:{outage.fingerprint}", sid, "-"]
    # SINCE: when it fired (pending: when its condition began), and how long ago.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(9m\d*s?\)", rows[0][5]), rows[0]
    assert rows[3][5].endswith("(20s)") or rows[3][5].endswith("(21s)"), rows[3]

    doc = json.loads(omniwatch("alerts", "list", "-c", str(cfg), "--json").stdout)
    by_fp = {a["fingerprint"]: a for a in doc["alerts"]}
    assert list(by_fp) == [outage.fingerprint, under.fingerprint, silenced.fingerprint,
                           pending.fingerprint]
    assert by_fp[under.fingerprint]["muted_by"] == [f"inhibited:{outage.fingerprint}"]
    assert by_fp[silenced.fingerprint]["muted_by"] == [sid]
    assert by_fp[pending.fingerprint]["status"] == "pending"
    assert by_fp[pending.fingerprint]["fired_at"] is None
    assert by_fp[outage.fingerprint]["labels"] == {"alertname": "ChannelDown",
                                                    "channel": "branch", "severity": "page"}
    assert by_fp[outage.fingerprint]["annotations"] == {"reason": "connect_refused"}

    # Expired, the silence no longer mutes: the list says so at once.
    omniwatch("silence", "expire", "-c", str(cfg), sid)
    doc = json.loads(omniwatch("alerts", "list", "-c", str(cfg), "--json").stdout)
    assert {a["fingerprint"]: a["muted_by"] for a in doc["alerts"]}[silenced.fingerprint] == []


def test_alerts_list_without_alerts(cfg: Path) -> None:
    out = omniwatch("alerts", "list", "-c", str(cfg))
    assert (out.returncode, out.stdout) == (0, "no firing or pending alerts\n")
    assert json.loads(omniwatch("alerts", "list", "-c", str(cfg), "--json").stdout) == {
        "alerts": []}


# --- alerts test --------------------------------------------------------------------


def test_alerts_test_posts_a_real_test_message(tmp_path: Path,
                                               slack_server: SlackServer) -> None:
    cfg = write_config(tmp_path, slack_alerts(slack_server))
    out = omniwatch("alerts", "test", "-c", str(cfg), "--route", "branch")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "branch/slack: delivered\n"
    (posted,) = slack_server.messages("#branch-oncall")
    assert slack_server.messages("#channel-reliability") == []
    header = posted.blocks[0]["text"]["text"]
    assert header.startswith("🧪 TEST")
    assert "OmniwatchTest" in posted.text
    assert posted.metadata is not None
    assert posted.metadata["event_payload"]["id"].startswith("branch/slack:test:")
    (call,) = slack_server.requests("chat.postMessage")
    assert call.status == 200
    # Through the outbox: delivered there, so a running monitor never sends it again.
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    try:
        assert {k: n for k, n in store.outbox_counts().items() if n} == {"delivered": 1}
    finally:
        store.close()
    default = omniwatch("alerts", "test", "-c", str(cfg), "--route", "default", "--json")
    assert default.returncode == 0, default.stderr
    doc = json.loads(default.stdout)
    assert doc["route"] == "default"
    assert [(r["receiver"], r["delivered"], r["error"]) for r in doc["results"]] == [
        ("default/slack", True, None)]
    assert len(slack_server.messages("#channel-reliability")) == 1
    assert TOKEN not in out.stdout + out.stderr + default.stdout + default.stderr


def test_alerts_test_with_a_revoked_token_names_the_permanent_error(tmp_path: Path) -> None:
    with SlackServer(revoked=[TOKEN]) as slack:
        cfg = write_config(tmp_path, slack_alerts(slack))
        out = omniwatch("alerts", "test", "-c", str(cfg), "--route", "branch")
        assert slack.posts() == []
    assert out.returncode == 1, out.stderr
    assert out.stdout == "branch/slack: NOT delivered (token_revoked)\n"
    assert "Traceback" not in out.stderr
    assert TOKEN not in out.stdout + out.stderr
    store = SqliteProbeStore(str(tmp_path / "omniwatch.db"))
    try:  # failed for good: never retried by the monitor either
        assert {k: n for k, n in store.outbox_counts().items() if n} == {"failed": 1}
    finally:
        store.close()


def test_alerts_test_unknown_route_lists_the_routes(tmp_path: Path,
                                                    slack_server: SlackServer) -> None:
    cfg = write_config(tmp_path, slack_alerts(slack_server))
    line = _one_line(omniwatch("alerts", "test", "-c", str(cfg), "--route", "nosuch"))
    assert line == ("omniwatch alerts test: --route: no route 'nosuch' "
                    "(routes: branch, default)")
    assert slack_server.requests() == []


def test_alerts_test_alertmanager_route(tmp_path: Path) -> None:
    with running_alertmanager(tmp_path) as am:
        cfg = write_config(tmp_path, f"alerts:\n  alertmanager: {{url: '{am.url}'}}\n")
        out = omniwatch("alerts", "test", "-c", str(cfg), "--route", "alertmanager")
        assert out.returncode == 0, out.stderr
        assert out.stdout == "alertmanager: delivered\n"
        alerts = am.get("/api/v2/alerts")
    (got,) = alerts
    assert got["labels"] == {"alertname": "OmniwatchTest", "route": "alertmanager",
                             "severity": "info"}
    assert got["status"]["state"] == "active"
    assert got["annotations"]["summary"] == "Test notification for route alertmanager"


def test_alerts_test_without_alertmanager_does_not_offer_it(cfg: Path) -> None:
    line = _one_line(omniwatch("alerts", "test", "-c", str(cfg), "--route", "alertmanager"))
    assert line == "omniwatch alerts test: --route: no route 'alertmanager' (routes: default)"


# --- help ---------------------------------------------------------------------------

HELP: list[tuple[list[str], list[str]]] = [
    (["alerts"], ["list", "test"]),
    (["alerts", "list"], ["-c FILE", "--json", "pending", "SILENCED BY", "inhibited"]),
    (["alerts", "test"], ["--route NAME", "-c FILE", "--json", "default", "alertmanager",
                          "exit 1"]),
    (["silence"], ["add", "list", "expire"]),
    (["silence", "add"], ["--match MATCHER", "--for DURATION", "--start TIME",
                          "--reason TEXT", "--author NAME", "$USER", "NAME=~REGEX",
                          "omniwatch silence add -c omniwatch.yaml --match channel=branch "
                          "--for 2h --reason"]),
    (["silence", "list"], ["--all", "--json", "expired"]),
    (["silence", "expire"], ["ID", "silence list"]),
]


def test_help_is_enough_to_use_them() -> None:
    outs = _run_all([[*argv, "--help"] for argv, _ in HELP])
    for (argv, needles), out in zip(HELP, outs, strict=True):
        assert out.returncode == 0, (argv, out.stderr)
        text = " ".join(out.stdout.split())  # argparse wraps lines where it likes
        missing = [n for n in needles if " ".join(n.split()) not in text]
        assert missing == [], (argv, out.stdout)
