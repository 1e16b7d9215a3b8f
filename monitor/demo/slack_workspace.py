"""What a local Slack keeps and how its Web API methods answer: channels, messages with
their threads and edits, scopes, Block Kit limits.

Shared by the demo's Slack sink (:mod:`monitor.demo.slack_sink`) and the tests' Slack
server (``tests/slack_server.py``, which adds faults).  No HTTP here and no locking: the
server parses requests, checks tokens and calls a method of :data:`METHODS`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SCOPES = "chat:write,channels:history,groups:history,channels:read"
DEFAULT_CHANNELS: Mapping[str, str] = {"#channel-reliability": "C0000000001",
                                       "#branch-oncall": "C0000000002"}
TEAM = {"url": "https://omniwatch-test.slack.com/", "team": "omniwatch-test",
        "user": "omniwatch", "team_id": "T0000TEST", "user_id": "U0000BOT",
        "bot_id": "B0000BOT"}


class ApiError(Exception):
    """An ``ok: false`` answer: ``code``, the HTTP status (200 as Slack does), extras."""

    def __init__(self, code: str, status: int = 200, **extra: Any) -> None:
        super().__init__(code)
        self.code, self.status, self.extra = code, status, extra


@dataclass
class Message:
    """A message as Slack keeps it; ``edits`` holds the versions chat.update replaced."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    via: str = "api"
    edits: list[dict[str, Any]] = field(default_factory=list)

    def as_api(self, *, metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text,
                               "blocks": self.blocks, "bot_id": TEAM["bot_id"],
                               "user": TEAM["user_id"], "team": TEAM["team_id"]}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edits:
            out["edited"] = {"user": TEAM["user_id"], "ts": self.edits[-1]["edited_ts"]}
        if metadata and self.metadata is not None:
            out["metadata"] = self.metadata
        return out


@dataclass(frozen=True)
class Update:
    """One accepted chat.update."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    at: float


def bare(name: str) -> str:
    return name[1:] if name.startswith("#") else name


def truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def json_field(value: Any) -> Any:
    """Form bodies carry blocks and metadata as JSON text, JSON bodies as values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def blocks_problem(blocks: Any) -> str | None:
    """Why Slack would refuse ``blocks`` (its limits), or None."""
    if not isinstance(blocks, list):
        return "invalid_blocks_format"
    if len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "invalid_blocks"
        text = block.get("text")
        if block["type"] == "section" and (
                not isinstance(text, dict) or not 1 <= len(text.get("text", "")) <= 3000):
            return "invalid_blocks"
        if block["type"] == "header" and len((text or {}).get("text", "")) > 150:
            return "invalid_blocks"
        if block["type"] == "context" and not 1 <= len(block.get("elements", [])) <= 10:
            return "invalid_blocks"
    return None


class Workspace:
    """One Slack workspace: its channels (name -> id), the bot's scopes and messages."""

    def __init__(self, *, scopes: str, channels: Mapping[str, str],
                 private: Iterable[str], webhooks: Mapping[str, str]) -> None:
        self.scopes = scopes
        self.channels = {bare(k): v for k, v in channels.items()}
        self.private = {self.channel_id(p) for p in private}
        self.archived: set[str] = set()
        self.outside: set[str] = set()  # channels the bot is not a member of
        self.webhooks = dict(webhooks)  # path -> channel
        self.messages: list[Message] = []
        self.updates: list[Update] = []
        self._last_ts = 0.0

    def channel_id(self, channel: str) -> str:
        return self.channels.get(bare(channel), channel)

    def next_ts(self) -> str:
        """A fresh ``ts``: Unix time in microseconds, strictly increasing, as Slack's."""
        self._last_ts = max(time.time(), self._last_ts + 1e-6)
        return f"{self._last_ts:.6f}"

    def need(self, scope: str) -> None:
        if scope not in self.scopes.split(","):
            raise ApiError("missing_scope", needed=scope, provided=self.scopes)

    def _channel(self, params: Mapping[str, Any], *, by_name: bool) -> str:
        value = str(params.get("channel") or "")
        if value in self.channels.values():
            return value
        cid = self.channels.get(bare(value)) if by_name else None
        if cid is None:
            raise ApiError("channel_not_found")
        return cid

    def _readable(self, params: Mapping[str, Any]) -> str:
        cid = self._channel(params, by_name=False)
        self.need("groups:history" if cid in self.private else "channels:history")
        if cid in self.outside:
            raise ApiError("not_in_channel")
        return cid

    def _top(self, cid: str, ts: str) -> Message | None:
        return next((m for m in self.messages
                     if m.channel == cid and m.ts == ts and m.thread_ts is None), None)

    # --- the Web API methods ----------------------------------------------------------

    def auth_test(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return dict(TEAM)

    def chat_post_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.need("chat:write")
        cid = self._channel(params, by_name=True)
        if cid in self.archived:
            raise ApiError("is_archived")
        if cid in self.outside:
            raise ApiError("not_in_channel")
        text, blocks = str(params.get("text") or ""), json_field(params.get("blocks"))
        if not text and not blocks:
            raise ApiError("no_text")
        if len(text) > 40000:
            raise ApiError("msg_too_long")
        if blocks is not None and (problem := blocks_problem(blocks)):
            raise ApiError(problem)
        metadata = json_field(params.get("metadata"))
        if metadata is not None and not (isinstance(metadata, dict)
                                         and isinstance(metadata.get("event_type"), str)
                                         and isinstance(metadata.get("event_payload"), dict)):
            raise ApiError("invalid_metadata_format")
        thread_ts = params.get("thread_ts") or None
        if thread_ts is not None and self._top(cid, str(thread_ts)) is None:
            raise ApiError("thread_not_found")
        msg = Message(cid, self.next_ts(), text, blocks or [], thread_ts, metadata)
        self.messages.append(msg)
        return {"channel": cid, "ts": msg.ts, "message": msg.as_api(metadata=True)}

    def chat_update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.need("chat:write")
        cid = self._channel(params, by_name=False)  # chat.update takes ids only
        ts = str(params.get("ts") or "")
        msg = next((m for m in self.messages if m.channel == cid and m.ts == ts), None)
        if msg is None:
            raise ApiError("message_not_found")
        text, blocks = str(params.get("text") or ""), json_field(params.get("blocks"))
        if blocks is not None and (problem := blocks_problem(blocks)):
            raise ApiError(problem)
        if len(text) > 40000:
            raise ApiError("msg_too_long")
        msg.edits.append({"text": msg.text, "blocks": msg.blocks, "edited_ts": self.next_ts()})
        msg.text, msg.blocks = text, blocks if blocks is not None else msg.blocks
        if (metadata := json_field(params.get("metadata"))) is not None:
            msg.metadata = metadata  # left out, the message keeps its metadata
        self.updates.append(Update(cid, ts, text, msg.blocks, time.time()))
        return {"channel": cid, "ts": ts, "text": text, "message": msg.as_api(metadata=True)}

    @staticmethod
    def _page(items: list[Any], params: Mapping[str, Any], key: str,
              default_limit: int) -> dict[str, Any]:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or default_limit)
        page, rest = items[start:start + limit], items[start + limit:]
        return {key: page, "has_more": bool(rest),
                "response_metadata": {"next_cursor": str(start + limit) if rest else ""}}

    @staticmethod
    def _window(m: Message, params: Mapping[str, Any]) -> bool:
        oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or 9e12)
        return oldest < float(m.ts) < latest

    def conversations_history(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cid = self._readable(params)
        meta = truthy(params.get("include_all_metadata"))
        found = [m for m in reversed(self.messages)
                 if m.channel == cid and m.thread_ts is None and self._window(m, params)]
        return self._page([m.as_api(metadata=meta) for m in found], params, "messages", 100)

    def conversations_replies(self, params: Mapping[str, Any]) -> dict[str, Any]:
        cid = self._readable(params)
        parent = self._top(cid, str(params.get("ts") or ""))
        if parent is None:
            raise ApiError("thread_not_found")
        meta = truthy(params.get("include_all_metadata"))
        thread = [parent] + [m for m in self.messages
                             if m.thread_ts == parent.ts and self._window(m, params)]
        return self._page([m.as_api(metadata=meta) for m in thread], params, "messages", 1000)

    def conversations_list(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.need("channels:read")
        types = str(params.get("types") or "public_channel").split(",")
        private_ok = "private_channel" in types and "groups:read" in self.scopes.split(",")
        rows = [{"id": cid, "name": name, "is_channel": True,
                 "is_private": cid in self.private, "is_archived": cid in self.archived,
                 "is_member": cid not in self.outside}
                for name, cid in sorted(self.channels.items(), key=lambda i: i[1])
                if (cid in self.private and private_ok)
                or (cid not in self.private and "public_channel" in types)]
        if truthy(params.get("exclude_archived")):
            rows = [r for r in rows if not r["is_archived"]]
        return self._page(rows, params, "channels", 100)

    # --- incoming webhooks --------------------------------------------------------------

    def deliver_webhook(self, path: str, body: Any) -> tuple[int, str | None]:
        """Post a webhook's message: ``(200, None)``, or the status and code Slack
        answers a webhook it refuses."""
        if path not in self.webhooks:
            return 404, "no_service"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        if not body.get("text") and not body.get("blocks"):
            return 400, "no_text"
        if "blocks" in body and blocks_problem(body["blocks"]):
            return 400, "invalid_blocks"
        cid = self.channel_id(self.webhooks[path])
        if cid in self.archived:
            return 410, "channel_is_archived"
        self.messages.append(Message(cid, self.next_ts(), body.get("text", ""),
                                     body.get("blocks", []), via="webhook"))
        return 200, None


METHODS: Mapping[str, Callable[[Workspace, Mapping[str, Any]], dict[str, Any]]] = {
    "auth.test": Workspace.auth_test,
    "chat.postMessage": Workspace.chat_post_message,
    "chat.update": Workspace.chat_update,
    "conversations.history": Workspace.conversations_history,
    "conversations.replies": Workspace.conversations_replies,
    "conversations.list": Workspace.conversations_list,
}
