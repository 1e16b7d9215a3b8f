"""A local server that speaks Slack's Web API and incoming-webhook protocol as Slack does.

Slack cannot be reached from the tests, so this stands in for it: slack-sdk reaches it
through ``base_url`` (:attr:`SlackServer.api_url`) or a webhook URL
(:attr:`SlackServer.webhook_url`), never by patching the SDK.  It runs an aiohttp server
on 127.0.0.1, port 0, in a thread of its own with its own loop, so the same server serves
in-process async tests and an ``omniwatch run`` child process.

What it speaks (as Slack does):

* ``/api/METHOD``: a Bearer token (or a ``token`` field), arguments from the query, a
  form or a JSON body; API errors as HTTP 200 ``{"ok": false, "error": CODE}``; 429 with
  ``Retry-After`` when rate limited; an ``x-oauth-scopes`` header on every answer to a
  known token.  Methods: ``auth.test``, ``chat.postMessage`` (Block Kit limits checked:
  ``invalid_blocks``, ``msg_too_long``), ``chat.update``, ``conversations.history``,
  ``conversations.replies``, ``conversations.list``.
* ``POST /services/T…/B…/X…``: 200 ``ok``; 400 ``invalid_payload`` / ``no_text`` /
  ``invalid_blocks``, 404 ``no_service``, 410 ``channel_is_archived``, 429, 5xx.

Faults are injected with :meth:`SlackServer.fail_next`, :meth:`~SlackServer.fail_for`
and :meth:`~SlackServer.set_error`; :meth:`~SlackServer.answer_late` stores a post but
answers late (a client that crashes meanwhile cannot know Slack accepted it).  Every
request is recorded (token redacted) and every message kept with its thread and its
edits, so tests assert exactly what Slack received.  All of it is thread-safe.  One
assumption beyond Slack's documentation: a reply to a ``thread_ts`` that is not a message
of the channel answers ``thread_not_found``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from monitor.demo.slack_sink import api_params, bearer, call_method
from monitor.demo.slack_workspace import (
    DEFAULT_CHANNELS,
    DEFAULT_SCOPES,
    ApiError,
    Message,
    Update,
    Workspace,
    blocks_problem,
)

__all__ = ["DEFAULT_SCOPES", "TOKEN", "WEBHOOK_PATH", "Message", "Recorded", "SlackServer",
           "Update", "blocks_problem", "slack_server"]

LOCALHOST = "127.0.0.1"
TOKEN = "xoxb-test-0000-omniwatch"
WEBHOOK_PATH = "/services/T0000TEST/B0000HOOK/aBcDeFgHiJkLmNoPqRsTuVwX"


@dataclass(frozen=True)
class Recorded:
    """One request as received: ``method`` is the API method or ``webhook``."""

    method: str
    http_method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    at: float
    status: int = 0
    error: str | None = None


@dataclass
class _Fault:
    status: int | None
    error: str | None
    retry_after: float | None
    method: str | None
    remaining: int = 1
    until: float | None = None  # monotonic deadline for fail_for


@dataclass
class _Late:
    seconds: float
    method: str | None
    remaining: int


class SlackServer:
    """Slack on 127.0.0.1 (see the module docstring).  Use as a context manager, or
    :meth:`start` / :meth:`stop`; the ``slack_server`` fixture gives a started one."""

    def __init__(self, *, tokens: Iterable[str] = (TOKEN,), revoked: Iterable[str] = (),
                 scopes: str = DEFAULT_SCOPES,
                 channels: Mapping[str, str] = DEFAULT_CHANNELS,
                 private: Iterable[str] = (),
                 webhooks: Mapping[str, str] | None = None) -> None:
        self.tokens = set(tokens)
        self.revoked = set(revoked)
        self.workspace = Workspace(
            scopes=scopes, channels=channels, private=private,
            webhooks=webhooks or {WEBHOOK_PATH: "#channel-reliability"})
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._errors: dict[str, _Fault] = {}
        self._late: list[_Late] = []
        self._requests: list[Recorded] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self.port = 0

    # --- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def scopes(self) -> str:
        """The bot token's scopes (comma-separated, as ``x-oauth-scopes``); settable."""
        return self.workspace.scopes

    @scopes.setter
    def scopes(self, value: str) -> None:
        with self._lock:
            self.workspace.scopes = value

    @property
    def api_url(self) -> str:
        """What ``slack.api_url`` (slack-sdk's ``base_url``) points at."""
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        return self.url + next(iter(self.workspace.webhooks))

    def start(self) -> SlackServer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()),
                                        name="slack-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the local Slack server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/services/{t}/{b}/{x}", self._webhook)
        runner = web.AppRunner(app, handle_signals=False, access_log=None,
                               shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, LOCALHOST, 0).start()
        self.port = runner.addresses[0][1]
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._stopped.wait()
        await runner.cleanup()

    # --- faults and state ---------------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int | None = None, error: str | None = None,
                  retry_after: float | None = None, method: str | None = None) -> None:
        """Answer the next ``n`` requests (of ``method``, or any, ``webhook`` for the
        webhook) with a fault: ``error="ratelimited"`` or ``status=429`` is a 429 with
        ``Retry-After``; another ``error`` an ``ok: false`` answer (HTTP 200 unless
        ``status``); a bare ``status`` (default 500) an HTML error page."""
        with self._lock:
            self._faults.append(_Fault(status, error, retry_after, method, remaining=n))

    def fail_for(self, seconds: float, *, status: int = 500, error: str | None = None,
                 method: str | None = None) -> None:
        """Answer every request with that fault for the next ``seconds``."""
        with self._lock:
            self._faults.append(_Fault(status, error, None, method, remaining=-1,
                                       until=time.monotonic() + seconds))

    def set_error(self, method: str, error: str, *, status: int | None = None,
                  retry_after: float | None = None) -> None:
        """Answer every call of ``method`` with ``error`` until :meth:`clear_error`
        (e.g. ``set_error("chat.update", "edit_window_closed")``)."""
        with self._lock:
            self._errors[method] = _Fault(status, error, retry_after, method, remaining=-1)

    def clear_error(self, method: str) -> None:
        with self._lock:
            self._errors.pop(method, None)

    def answer_late(self, seconds: float, *, method: str | None = None, n: int = 1) -> None:
        """Handle the next ``n`` Web API requests (of ``method``, or any) as usual — a
        post is stored and recorded as answered — but send each answer ``seconds``
        later.  Other requests are answered meanwhile."""
        with self._lock:
            self._late.append(_Late(seconds, method, n))

    def clear_faults(self) -> None:
        """Forget every fault, error and late answer set so far (answers already
        waiting still wait)."""
        with self._lock:
            self._faults.clear()
            self._errors.clear()
            self._late.clear()

    def archive(self, channel: str) -> None:
        with self._lock:
            self.workspace.archived.add(self.channel_id(channel))

    def remove_bot(self, channel: str) -> None:
        """The bot leaves ``channel``: posts and reads there answer ``not_in_channel``."""
        with self._lock:
            self.workspace.outside.add(self.channel_id(channel))

    def channel_id(self, channel: str) -> str:
        return self.workspace.channel_id(channel)

    def inject(self, channel: str, text: str, *, metadata: dict[str, Any] | None = None,
               thread_ts: str | None = None) -> str:
        """Store a message as if it had been posted (a post made before a crash)."""
        with self._lock:
            msg = Message(self.channel_id(channel), self.workspace.next_ts(), text, [],
                          thread_ts, metadata)
            self.workspace.messages.append(msg)
            return msg.ts

    # --- what it received ---------------------------------------------------------

    def requests(self, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._requests if method is None or r.method == method]

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of ``channel`` (name or id), oldest first."""
        cid = self.channel_id(channel)
        with self._lock:
            return copy.deepcopy([m for m in self.workspace.messages
                                  if m.channel == cid and m.thread_ts is None])

    def replies(self, ts: str) -> list[Message]:
        """The replies in the thread of the message ``ts``, oldest first."""
        with self._lock:
            return copy.deepcopy([m for m in self.workspace.messages if m.thread_ts == ts])

    def posts(self) -> list[Message]:
        """Every message chat.postMessage accepted (top-level and replies), in order."""
        with self._lock:
            return copy.deepcopy([m for m in self.workspace.messages if m.via == "api"])

    def updates(self) -> list[Update]:
        with self._lock:
            return list(self.workspace.updates)

    # --- HTTP ---------------------------------------------------------------------

    def _fault(self, method: str) -> _Fault | None:
        now = time.monotonic()
        self._faults = [f for f in self._faults
                        if f.remaining != 0 and (f.until is None or f.until > now)]
        for f in self._faults:
            if f.method in (None, method):
                if f.remaining > 0:
                    f.remaining -= 1
                return f
        return self._errors.get(method)

    def _lateness(self, method: str) -> float:
        for late in self._late:
            if late.remaining > 0 and late.method in (None, method):
                late.remaining -= 1
                return late.seconds
        return 0.0

    def _record(self, request: web.Request, method: str, body: Mapping[str, Any]) -> int:
        headers = {k: ("Bearer <redacted>" if k.lower() == "authorization" else v)
                   for k, v in request.headers.items()}
        path = request.path if method != "webhook" else request.path.rsplit("/", 1)[0] + "/…"
        self._requests.append(Recorded(method, request.method, path, headers,
                                       {k: v for k, v in body.items() if k != "token"},
                                       time.time()))
        return len(self._requests) - 1

    def _answered(self, index: int, status: int, error: str | None) -> None:
        r = self._requests[index]
        self._requests[index] = Recorded(r.method, r.http_method, r.path, r.headers,
                                         r.body, r.at, status, error)

    @staticmethod
    def _fault_response(f: _Fault, *, webhook: bool) -> tuple[web.Response, str]:
        if f.error == "ratelimited" or f.status == 429:
            headers = {"Retry-After": f"{f.retry_after if f.retry_after is not None else 1:g}"}
            if webhook:
                return web.Response(status=429, text="rate_limited", headers=headers), "ratelimited"
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers=headers), "ratelimited"
        if f.error is not None:
            status = f.status or (400 if webhook else 200)
            if webhook:
                return web.Response(status=status, text=f.error), f.error
            return web.json_response({"ok": False, "error": f.error}, status=status), f.error
        status = f.status or 500
        page = f"<html><body><h1>{status}</h1>Slack is having trouble.</body></html>"
        return web.Response(status=status, text=page, content_type="text/html"), str(status)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        error: ApiError | None = None
        try:
            params = await api_params(request)
        except ApiError as exc:
            params, error = {}, exc
        token = bearer(request, params)
        with self._lock:
            index = self._record(request, method, params)
            fault = self._fault(method)
            if fault is not None:
                response, code = self._fault_response(fault, webhook=False)
                self._answered(index, response.status, code)
                return response
            try:
                if error is not None:
                    raise error
                data = call_method(self.workspace, method, params, token,
                                   tokens=self.tokens, revoked=self.revoked)
            except ApiError as exc:
                self._answered(index, exc.status, exc.code)
                response = web.json_response({"ok": False, "error": exc.code, **exc.extra},
                                             status=exc.status,
                                             headers=self._scope_headers(token))
            else:
                self._answered(index, 200, None)
                response = web.json_response({"ok": True, **data},
                                             headers=self._scope_headers(token))
            late = self._lateness(method)
        if late > 0:  # outside the lock: other requests are answered meanwhile
            await asyncio.sleep(late)
        return response

    def _scope_headers(self, token: str) -> dict[str, str]:
        return {"x-oauth-scopes": self.workspace.scopes} if token in self.tokens else {}

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        with self._lock:
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
            index = self._record(request, "webhook", body if isinstance(body, dict) else {})
            fault = self._fault("webhook")
            code: str | None
            if fault is not None:
                response, code = self._fault_response(fault, webhook=True)
            else:
                status, code = self.workspace.deliver_webhook(request.path, body)
                response = web.Response(status=status, text=code or "ok",
                                        content_type="text/html")
            self._answered(index, response.status, code)
            return response


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    """A started :class:`SlackServer` with the default token, channels and webhook."""
    with SlackServer() as server:
        yield server

