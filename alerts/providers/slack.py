"""Slack in bot mode: ``chat.postMessage`` with Block Kit, replies in the episode's thread,
the opening message updated in place on resolve, and crash recovery through metadata.

Each post carries ``metadata`` ``{"event_type": "omniwatch_notification",
"event_payload": {"id": NOTIFICATION_ID}}``, so after a crash between Slack accepting a
post and the outbox recording it, :meth:`SlackBotProvider.find_delivered` reads the
channel (``conversations.history``) or the thread (``conversations.replies``) back and
finds it instead of posting twice.  That needs the ``channels:history`` scope
(``groups:history`` for a private channel), and ``channels:read`` to turn a channel name
into an id unless the configured channel is an id; without them it cannot tell, says so
in :meth:`~SlackBotProvider.check`, and at most one duplicate per notification in flight
can follow a crash.

slack-sdk's own retry handlers are disabled: the outbox retries, with backoff, and
knows the Retry-After Slack asked for (:class:`~alerts.errors.RetryableError`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from alerts.config import Receiver, SlackSettings
from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.model import Notification
from alerts.providers import Receipt, RenderOptions
from alerts.providers.slack_blocks import SlackMessage, message, resolved_original, thread_reply

EVENT_TYPE: Final = "omniwatch_notification"
# A post is looked for from this long before its notification was created: clocks of
# this host and Slack's differ a little.
LOOKBACK_SECONDS: Final = 5.0
HISTORY_PAGE: Final = 200
# A storm queues notifications for a while, so the window can hold many messages; past
# this many pages the lookup gives up (None: at worst one duplicate).
MAX_PAGES: Final = 25

PERMANENT_CODES: Final = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "msg_too_long",
    "invalid_blocks", "no_text", "invalid_blocks_format", "invalid_metadata_format",
    "restricted_action", "ekm_access_denied", "no_permission", "team_access_not_granted",
    "invalid_arguments"})
RETRYABLE_CODES: Final = frozenset({
    "ratelimited", "rate_limited", "internal_error", "service_unavailable",
    "request_timeout", "fatal_error"})
# chat.update cannot edit the opening message: post the resolution as a new one.
UPDATE_GONE: Final = frozenset({"message_not_found", "cant_update_message",
                                "edit_window_closed"})
# The thread's parent is gone (deleted, or the channel pruned): post top-level instead.
THREAD_GONE: Final = frozenset({"thread_not_found"})

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}\Z")
_SDK_LOGGER = "alerts.providers.slack.sdk"

T = TypeVar("T")


def sdk_logger() -> logging.Logger:
    """The logger handed to slack-sdk, held at INFO: its DEBUG lines dump whole request
    bodies and URLs, which have no place in our logs whatever level the monitor runs at."""
    logger = logging.getLogger(_SDK_LOGGER)
    logger.setLevel(logging.INFO)
    return logger


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (Slack sends whole seconds), if readable."""
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def api_error(exc: SlackApiError) -> DeliveryError:
    """The delivery error for a Slack API failure.  Unknown codes count as retryable:
    better a late alert than a lost one (the outbox keeps retrying with backoff, and the
    code shows in its log and metrics)."""
    response = exc.response
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    code = code if isinstance(code, str) and re.fullmatch(r"[a-z_]{1,64}", code) else None
    if status == 429:
        return RetryableError("ratelimited", "Slack rate limited the request",
                              retry_after=retry_after(getattr(response, "headers", None)))
    if status >= 500:
        return RetryableError(f"http_{status}", f"Slack answered HTTP {status}")
    if code in PERMANENT_CODES:
        return PermanentError(code, f"Slack refused the request: {code}")
    if code is not None:
        return RetryableError(code, f"Slack answered {code}")
    return RetryableError(f"http_{status}", f"Slack answered HTTP {status} without an error")


def transport_error(exc: BaseException) -> RetryableError:
    """A network failure: retryable.  Only the exception's type is kept — its text may
    carry a URL, and a URL may carry a secret."""
    if isinstance(exc, TimeoutError):
        return RetryableError("timeout", "Slack did not answer in time")
    return RetryableError("connection", f"cannot reach Slack ({type(exc).__name__})")


async def call_slack(call: Callable[[], Awaitable[T]]) -> T:
    """Run one API call, every failure turned into a :class:`DeliveryError` (raised
    ``from None``: a traceback must not carry the request)."""
    try:
        return await call()
    except SlackApiError as exc:
        raise api_error(exc) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise transport_error(exc) from None


def is_channel_id(channel: str) -> bool:
    return _CHANNEL_ID.match(channel) is not None


class SlackBotProvider:
    """Posts a receiver's notifications with a bot token (see the module docstring)."""

    def __init__(self, receiver: Receiver, options: RenderOptions) -> None:
        settings = receiver.settings
        if not isinstance(settings, SlackSettings) or not settings.token:
            raise ValueError(f"receiver {receiver.name}: Slack bot mode needs a token")
        self.receiver = receiver
        self.settings = settings
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        # The configured channel's id and privacy, once known (a post answers the id).
        self._channel_id: str | None = (
            settings.channel if settings.channel and is_channel_id(settings.channel) else None)
        self._private: bool | None = None

    def __repr__(self) -> str:
        return f"SlackBotProvider(receiver={self.receiver.name!r}, channel={self.channel!r})"

    @property
    def channel(self) -> str:
        return self.settings.channel or ""

    def client(self) -> AsyncWebClient:
        """The slack-sdk client, with a session of our own (made on first use, in the
        running loop) so connections are reused and :meth:`close` can release them."""
        if self._client is None or self._session is None or self._session.closed:
            timeout = self.settings.timeout_seconds
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
            self._client = AsyncWebClient(
                token=self.settings.token, base_url=self.settings.api_url,
                timeout=max(1, round(timeout)), session=self._session,
                logger=sdk_logger(), retry_handlers=[])
        return self._client

    # --- sending --------------------------------------------------------------------

    async def send(self, notification: Notification, thread: Receipt | None) -> Receipt:
        """Post ``notification``: an opening or a test at the top; an update or a
        reminder in ``thread``; a resolution as the opening message updated in place plus
        a reply.  Without a usable thread, every kind becomes a top-level post."""
        n = notification
        if n.kind in ("firing", "test") or thread is None:
            return await self._post(message(n, self.options), n)
        if n.kind == "resolved":
            try:
                await self._update(thread, resolved_original(n, self.options))
            except DeliveryError as exc:
                if exc.code not in UPDATE_GONE:
                    raise
                return await self._post(message(n, self.options), n)
        return await self._reply(thread, n)

    async def _reply(self, thread: Receipt, n: Notification) -> Receipt:
        try:
            return await self._post(thread_reply(n, self.options), n, thread=thread)
        except DeliveryError as exc:
            if exc.code not in THREAD_GONE:
                raise
            return await self._post(message(n, self.options), n)

    async def _post(self, msg: SlackMessage, n: Notification, *,
                    thread: Receipt | None = None) -> Receipt:
        if not self.channel and thread is None:
            raise PermanentError("channel_not_found", "no Slack channel is configured")
        channel = thread["channel"] if thread is not None else self.channel
        client = self.client()
        response = await call_slack(lambda: client.chat_postMessage(
            channel=channel, text=msg.text, blocks=msg.blocks_list(),
            thread_ts=thread["ts"] if thread is not None else None,
            metadata={"event_type": EVENT_TYPE, "event_payload": {"id": n.id}},
            unfurl_links=False, unfurl_media=False))
        receipt = {"channel": str(response["channel"]), "ts": str(response["ts"])}
        if thread is None and self._channel_id is None:
            self._channel_id = receipt["channel"]
        return receipt

    async def _update(self, thread: Receipt, msg: SlackMessage) -> None:
        client = self.client()
        await call_slack(lambda: client.chat_update(
            channel=thread["channel"], ts=thread["ts"], text=msg.text,
            blocks=msg.blocks_list()))

    # --- recovery -------------------------------------------------------------------

    async def find_delivered(self, notification: Notification,
                             thread: Receipt | None) -> Receipt | None:
        """The receipt of an earlier post of ``notification`` (its metadata id), looked
        up since ``created_at`` - :data:`LOOKBACK_SECONDS`: in the thread for an update,
        a reminder or a resolution (for a resolution also at the top, where it goes when
        the opening could not be edited; the edit itself is idempotent and simply
        repeated), else at the top of the channel.

        None when there was none, or when Slack will not let us look (a missing scope, a
        channel we cannot read or resolve): then :meth:`send` may post once more.  A
        retryable failure is raised, so the lookup is retried rather than skipped.
        """
        n = notification
        oldest = f"{n.created_at - LOOKBACK_SECONDS:.6f}"
        try:
            if thread is not None and n.kind in ("update", "reminder", "resolved"):
                try:
                    found = await self._search(n.id, "conversations_replies", oldest,
                                               channel=thread["channel"], ts=thread["ts"])
                except DeliveryError as exc:
                    if exc.code not in THREAD_GONE:
                        raise
                else:  # a resolution may have gone to the top (see send); nothing else
                    if found is not None or n.kind != "resolved":
                        return found
            channel = await self._resolve_channel()
            if channel is None:
                return None
            return await self._search(n.id, "conversations_history", oldest, channel=channel)
        except PermanentError:
            return None

    async def _search(self, notification_id: str, method: str, oldest: str,
                      **args: str) -> Receipt | None:
        client = self.client()
        call = getattr(client, method)
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            response = await call_slack(partial(
                call, oldest=oldest, include_all_metadata=True, limit=HISTORY_PAGE,
                cursor=cursor, **args))
            for msg in response.get("messages") or ():
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("id") == notification_id:
                    return {"channel": args["channel"], "ts": str(msg["ts"])}
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def _resolve_channel(self) -> str | None:
        """The configured channel's id: configured as one, learnt from a post, or looked
        up by name with ``conversations.list`` (None when it is not listed)."""
        if self._channel_id is not None or not self.channel:
            return self._channel_id
        name = self.channel.removeprefix("#")
        client = self.client()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            response = await call_slack(partial(
                client.conversations_list, types="public_channel,private_channel",
                exclude_archived=True, limit=1000, cursor=cursor))
            for row in response.get("channels") or ():
                if row.get("name") == name:
                    self._channel_id = str(row["id"])
                    self._private = bool(row.get("is_private"))
                    return self._channel_id
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None

    # --- start-up -------------------------------------------------------------------

    async def check(self) -> list[str]:
        """Problems worth a warning at start-up: a token Slack refuses, and scopes that
        leave posting or crash recovery unable to work."""
        where = f"Slack receiver {self.receiver.name}"
        client = self.client()
        try:
            response = await call_slack(client.auth_test)
        except DeliveryError as exc:
            verdict = "was refused" if exc.permanent else "could not be checked"
            return [f"{where}: the bot token {verdict} ({exc.code})"]
        header = response.headers.get("x-oauth-scopes") if response.headers else None
        if header is None:
            return []  # a proxy dropped it: nothing to judge by
        scopes = {s.strip() for s in str(header).split(",")}
        problems = []
        if "chat:write" not in scopes:
            problems.append(f"{where}: the token lacks chat:write, so every post will fail")
        resolved: str | None = self._channel_id
        if resolved is None:
            try:
                resolved = await self._resolve_channel()
            except DeliveryError:
                resolved = None
        if resolved is None:
            problems.append(
                f"{where}: cannot find the id of {self.channel} (needs channels:read, "
                "groups:read for a private channel, or configure the channel id), so after "
                "a crash a message already posted cannot be looked up and may be posted "
                "once more")
        need = "groups:history" if self._private else "channels:history"
        if need not in scopes:
            also = "" if self._private is not None else " (groups:history for a private channel)"
            problems.append(
                f"{where}: the token lacks {need}{also}, so after a crash a message already "
                "posted cannot be looked up and may be posted once more")
        return problems

    async def close(self) -> None:
        """Close the HTTP session, if one was opened."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = self._client = None
