"""The demo's Slack: a loopback server speaking the Web API methods omniwatch's Slack bot
provider calls, so that alerts travel the real path (outbox, provider, slack-sdk over
HTTP) and each message is shown in the terminal as it arrives.

:func:`api_params` and :func:`call_method` are the HTTP side of
:class:`~monitor.demo.slack_workspace.Workspace`; the tests' Slack server
(``tests/slack_server.py``) uses them too, adding its faults around them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import web

from monitor.demo.slack_workspace import (
    DEFAULT_CHANNELS,
    DEFAULT_SCOPES,
    METHODS,
    ApiError,
    Workspace,
)

LOCALHOST: Final = "127.0.0.1"


async def api_params(request: web.Request) -> dict[str, Any]:
    """A Web API call's arguments, as Slack reads them: the query, then a form or a JSON
    body (``invalid_json`` for a body that is not JSON)."""
    params: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if request.content_type == "application/json" and raw:
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError:
            raise ApiError("invalid_json") from None
        if isinstance(doc, dict):
            params.update(doc)
    elif request.content_type in ("application/x-www-form-urlencoded",
                                  "multipart/form-data"):
        params.update({k: v for k, v in (await request.post()).items()
                       if isinstance(v, str)})
    return params


def bearer(request: web.Request, params: dict[str, Any]) -> str:
    """The call's token: the ``Authorization: Bearer`` header, else a ``token`` argument
    (taken out of ``params``, so it is never recorded)."""
    header = request.headers.get("Authorization", "")
    token = params.pop("token", "")
    return header[7:].strip() if header.startswith("Bearer ") else str(token)


def call_method(workspace: Workspace, method: str, params: Mapping[str, Any], token: str,
                *, tokens: Collection[str], revoked: Collection[str] = ()) -> dict[str, Any]:
    """Answer one Web API call as Slack would (the ``ok: true`` fields), or raise
    :class:`ApiError` with Slack's error code."""
    if not token:
        raise ApiError("not_authed")
    if token in revoked:
        raise ApiError("token_revoked")
    if token not in tokens:
        raise ApiError("invalid_auth")
    handler = METHODS.get(method)
    if handler is None:
        raise ApiError("unknown_method", 404)
    return handler(workspace, params)


@dataclass(frozen=True, slots=True)
class SlackEvent:
    """One message the sink accepted: a new post (``thread`` when it is a reply in a
    thread) or an edit of one (``update``)."""

    kind: Literal["post", "reply", "update"]
    channel: str  # "#name" when the workspace knows it, else the id
    text: str  # Slack's plain-text fallback, unescaped


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackSink:
    """A Slack workspace on ``127.0.0.1`` (any free port) with one bot token; every
    message it accepts is handed to ``on_event``.  Serves in the running loop:
    :meth:`start`, then :meth:`close`."""

    def __init__(self, on_event: Callable[[SlackEvent], None], *,
                 channels: Mapping[str, str] = DEFAULT_CHANNELS) -> None:
        # A fresh token per run: the sink accepts nothing from a stale configuration.
        self.token = f"xoxb-demo-{secrets.token_hex(8)}"
        self.workspace = Workspace(scopes=DEFAULT_SCOPES, channels=channels, private=(),
                                   webhooks={})
        self._names = {cid: f"#{name}" for name, cid in self.workspace.channels.items()}
        self._on_event = on_event
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        """What ``alerts.slack.api_url`` points at."""
        return f"http://{LOCALHOST}:{self.port}/api/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, LOCALHOST, 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await api_params(request)
            token = bearer(request, params)
            data = call_method(self.workspace, method, params, token, tokens={self.token})
        except ApiError as exc:
            return web.json_response({"ok": False, "error": exc.code, **exc.extra},
                                     status=exc.status)
        self._announce(method, params, data)
        return web.json_response({"ok": True, **data},
                                 headers={"x-oauth-scopes": self.workspace.scopes})

    def _announce(self, method: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        if method not in ("chat.postMessage", "chat.update"):
            return
        channel = str(data.get("channel", ""))
        kind: Literal["post", "reply", "update"] = (
            "update" if method == "chat.update"
            else "reply" if params.get("thread_ts") else "post")
        text = str(params.get("text") or "")
        self._on_event(SlackEvent(kind, self._names.get(channel, channel), _unescape(text)))
