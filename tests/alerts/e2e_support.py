"""Helpers for the alerting end-to-end tests: ``omniwatch run`` as a child process, the
local Slack (:mod:`tests.slack_server`) behind ``alerts.slack.api_url``, targets that fail
on demand, a webhook receiver, and readers of what the process left in its store.

Everything listens on 127.0.0.1, port 0, in threads of the test process, so the monitor
under test (another process) reaches it as it would reach the real thing.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from tests.procs import OmniwatchProcess
from tests.slack_server import Message, SlackServer

LOCALHOST: Final = "127.0.0.1"
TOKEN_ENV: Final = "SLACK_BOT_TOKEN"
CHANNEL: Final = "#channel-reliability"

# Short timings throughout: a target is down after two failed probes half a second
# apart, rules run every second, a group waits a second, changes go out every two.
FAST_PROBES: Final = {"interval": "500ms", "timeout": "300ms"}
FAST_TIMING: Final = {"evaluation_interval": "1s", "group_wait": "1s", "group_interval": "2s"}
# Only TargetDown unless a test turns more on: a channel of one or two targets would be a
# ChannelDown, its SLO would burn, and a loaded machine may start probes late, each an
# alert of its own that would blur what a test counts.
FAST_RULES: Final = {"target_down": {"after": 2, "resolve_after": 1}, "channel_down": False,
                     "burn_rate": False, "budget_exhausted": False, "self_health": False}


# --- targets and receivers -------------------------------------------------------------

class _Server:
    """A threaded HTTP server on 127.0.0.1 (threaded: the monitor is another process)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((LOCALHOST, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class Targets(_Server):
    """HTTP targets that fail on demand: ``GET /NAME`` answers 200 until :meth:`fail`
    names it, then 503 until :meth:`recover` does."""

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    down = self.path.lstrip("/") in owner._down
                body = b"down" if down else b"up"
                self.send_response(503 if down else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)

    def __enter__(self) -> Targets:
        super().__enter__()
        return self

    def target(self, name: str, **extra: Any) -> dict[str, Any]:
        """The config entry of an http target ``name`` served here."""
        return {"name": name, "probe": "http", "url": f"http://{LOCALHOST}:{self.port}/{name}",
                **extra}

    def fail(self, *names: str) -> None:
        with self._lock:
            self._down.update(names)

    def recover(self, *names: str) -> None:
        with self._lock:
            self._down.difference_update(names)


class Hook(_Server):
    """A webhook receiver: records the JSON body of every POST, answers 200."""

    def __init__(self) -> None:
        self._bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner._lock:
                    owner._bodies.append(json.loads(raw or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(Handler)

    def __enter__(self) -> Hook:
        super().__enter__()
        return self

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._bodies)


# --- configuration ---------------------------------------------------------------------

def slack_settings(slack: SlackServer, **extra: Any) -> dict[str, Any]:
    """``alerts.slack`` in bot mode against the local Slack; the token from the env."""
    return {"token": "${" + TOKEN_ENV + "}", "channel": CHANNEL, "api_url": slack.api_url,
            "min_interval": "100ms", **extra}


def config_doc(store: Mapping[str, Any], channels: Mapping[str, Sequence[Mapping[str, Any]]],
               alerts: Mapping[str, Any], *, defaults: Mapping[str, Any] = FAST_PROBES,
               ) -> dict[str, Any]:
    """A whole config: ``channels`` maps a channel to its target entries; ``alerts``
    comes over the fast timings and rules."""
    return {"store": dict(store), "defaults": dict(defaults),
            "channels": {name: {"targets": list(ts)} for name, ts in channels.items()},
            "alerts": {**FAST_TIMING, "rules": FAST_RULES, **alerts}}


def write_config(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` as the config file at ``path`` (JSON is YAML 1.2)."""
    path.write_text(json.dumps(doc, indent=1))
    return path


# --- the process -----------------------------------------------------------------------

@contextlib.contextmanager
def running(config: Path, name: str) -> Iterator[OmniwatchProcess]:
    """``omniwatch run -c CONFIG`` logging to ``NAME.log`` beside it; stopped on exit
    (if the test has not killed it)."""
    proc = OmniwatchProcess(config, log_path=config.parent / f"{name}.log")
    try:
        yield proc
    finally:
        proc.stop()
        if proc.proc.poll() is None:
            proc.proc.kill()
            proc.proc.wait(10)


def kill(proc: OmniwatchProcess) -> None:
    """SIGKILL: no shutdown, nothing flushed, the lease not released."""
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(10)


def metric(proc: OmniwatchProcess, name: str, **labels: str) -> float | None:
    """One sample of a scrape of ``proc``, or None when it is absent."""
    return proc.samples().get((name, frozenset(labels.items())))


def notifications(proc: OmniwatchProcess, result: str, provider: str = "slack") -> float:
    return metric(proc, "omniwatch_notifications_total", provider=provider,
                  result=result) or 0.0


def events(proc: OmniwatchProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``proc`` whose ``event`` is ``event``."""
    return [e for e in proc.events() if e.get("event") == event]


def log_lines(proc: OmniwatchProcess) -> list[str]:
    return proc.log_path.read_text().splitlines()


# --- what was delivered ----------------------------------------------------------------

@dataclass(frozen=True)
class OutboxRow:
    """One outbox entry as the store holds it."""

    id: str
    receiver: str
    kind: str
    state: str
    attempts: int
    group_labels: Mapping[str, str]


def outbox(db: Path) -> list[OutboxRow]:
    """The SQLite store's outbox, oldest first (the order a receiver is sent in)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT id, receiver, payload, state, attempts FROM outbox "
                            "ORDER BY created_at, id").fetchall()
    finally:
        conn.close()
    out = []
    for nid, receiver, payload, state, attempts in rows:
        doc = json.loads(payload)
        out.append(OutboxRow(nid, receiver, doc["kind"], state, attempts,
                             dict(doc["group_labels"])))
    return out


def metadata_id(message: Message) -> str | None:
    """The notification id a post carries in its metadata."""
    payload = (message.metadata or {}).get("event_payload") or {}
    return payload.get("id")


def refused(slack: SlackServer) -> list[tuple[str, str | None]]:
    """Requests the local Slack refused for what they carried (not for injected faults:
    a 5xx has no error code of Slack's)."""
    return [(r.method, r.error) for r in slack.requests()
            if r.error is not None and not r.error.isdigit()]


def assert_within_limits(message: Message) -> None:
    """Slack's Block Kit limits, checked here too (the local Slack would refuse)."""
    assert 1 <= len(message.blocks) <= 50
    for block in message.blocks:
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "section":
            assert 1 <= len(text) <= 3000
        if block["type"] == "header":
            assert len(text) <= 150
    assert len(message.text) <= 40000
