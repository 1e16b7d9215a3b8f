"""The Slack bot provider through slack-sdk against the local Slack: exact posts, threads,
updates in place, every error class, crash recovery and the start-up check."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.model import Notification
from alerts.providers import Receipt, build_provider
from alerts.providers import slack_blocks as sb
from alerts.providers.slack import EVENT_TYPE, PERMANENT_CODES, SlackBotProvider
from tests.alerts.slack_samples import OPTIONS, bot_receiver, live, notification, snapshot
from tests.servers import closed_port, hang, tcp_server
from tests.slack_server import TOKEN, SlackServer

CHANNEL = "#channel-reliability"
Make = Callable[..., SlackBotProvider]


@pytest.fixture
async def make(slack_server: SlackServer) -> AsyncIterator[Make]:
    """Build bot providers against the local Slack; all closed afterwards."""
    built: list[SlackBotProvider] = []

    def factory(*, token: str = TOKEN, channel: str = CHANNEL, api_url: str | None = None,
                timeout: float = 5.0) -> SlackBotProvider:
        receiver = bot_receiver(api_url or slack_server.api_url, token=token,
                                channel=channel, timeout=timeout)
        provider = build_provider(receiver, OPTIONS)
        assert isinstance(provider, SlackBotProvider)
        built.append(provider)
        return provider

    yield factory
    for provider in built:
        await provider.close()


def opening() -> Notification:
    return live(notification(snapshot("core-gateway", severity="page", reason="timeout"),
                             snapshot("teller", reason="connect_refused")))


def update() -> Notification:
    return live(notification(snapshot("core-gateway", severity="page", reason="timeout"),
                             snapshot("atm", new=True, reason="timeout"),
                             snapshot("teller", status="resolved"), kind="update", seq=2))


def resolution() -> Notification:
    return live(notification(snapshot("core-gateway", severity="page", status="resolved"),
                             snapshot("atm", status="resolved"), kind="resolved", seq=3))


def meta(n: Notification) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"id": n.id}}


async def test_an_opening_is_posted_with_blocks_fallback_and_metadata(
        make: Make, slack_server: SlackServer) -> None:
    n = opening()
    receipt = await make().send(n, None)
    [posted] = slack_server.messages(CHANNEL)
    assert receipt == {"channel": "C0000000001", "ts": posted.ts}
    expected = sb.message(n, OPTIONS)
    assert (posted.text, posted.blocks, posted.metadata) == (
        expected.text, expected.blocks_list(), meta(n))
    [request] = slack_server.requests("chat.postMessage")
    assert request.headers["Authorization"] == "Bearer <redacted>"  # the token in a header
    assert request.headers["Content-Type"].startswith("application/json")


async def test_updates_and_reminders_are_replies_in_the_thread(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    changed = update()
    reminder = live(notification(snapshot("core-gateway", severity="page"), kind="reminder",
                                 seq=3))
    first = await provider.send(changed, thread)
    second = await provider.send(reminder, thread)
    assert len(slack_server.messages(CHANNEL)) == 1
    replies = slack_server.replies(thread["ts"])
    assert [(r.ts, r.text, r.blocks, r.metadata) for r in replies] == [
        (first["ts"], sb.thread_reply(changed, OPTIONS).text,
         sb.thread_reply(changed, OPTIONS).blocks_list(), meta(changed)),
        (second["ts"], sb.thread_reply(reminder, OPTIONS).text,
         sb.thread_reply(reminder, OPTIONS).blocks_list(), meta(reminder))]
    assert first["channel"] == second["channel"] == thread["channel"]


async def test_a_resolution_updates_the_opening_in_place_then_replies(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    opened = opening()
    thread = await provider.send(opened, None)
    done = resolution()
    receipt = await provider.send(done, thread)
    [original] = slack_server.messages(CHANNEL)
    rewritten = sb.resolved_original(done, OPTIONS)
    assert (original.text, original.blocks) == (rewritten.text, rewritten.blocks_list())
    assert original.metadata == meta(opened)  # still the opening's: recovery finds the reply
    assert [e["text"] for e in original.edits] == [sb.message(opened, OPTIONS).text]
    [update_] = slack_server.updates()
    assert (update_.channel, update_.ts) == (thread["channel"], thread["ts"])
    [reply] = slack_server.replies(thread["ts"])
    assert receipt == {"channel": thread["channel"], "ts": reply.ts}
    assert reply.text == sb.thread_reply(done, OPTIONS).text
    assert reply.text.startswith("✅ RESOLVED after 12m")


@pytest.mark.parametrize("code", ["message_not_found", "cant_update_message",
                                  "edit_window_closed"])
async def test_a_resolution_that_cannot_edit_posts_one_new_message(
        make: Make, slack_server: SlackServer, code: str) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    if code == "message_not_found":
        thread = {**thread, "ts": "1000000000.000001"}  # the opening was deleted
    else:
        slack_server.set_error("chat.update", code)
    done = resolution()
    receipt = await provider.send(done, thread)
    messages = slack_server.messages(CHANNEL)
    assert len(messages) == 2
    assert receipt == {"channel": "C0000000001", "ts": messages[1].ts}
    assert (messages[1].text, messages[1].metadata) == (sb.message(done, OPTIONS).text,
                                                        meta(done))
    assert messages[0].edits == []
    assert slack_server.replies(messages[0].ts) == []
    assert slack_server.updates() == []


async def test_a_reply_whose_thread_is_gone_becomes_a_top_level_post(
        make: Make, slack_server: SlackServer) -> None:
    n = update()
    receipt = await make().send(n, {"channel": "C0000000001", "ts": "1000000000.000001"})
    [posted] = slack_server.messages(CHANNEL)
    assert (receipt["ts"], posted.text) == (posted.ts, sb.message(n, OPTIONS).text)


async def test_without_a_thread_every_kind_is_a_top_level_post(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    for n in (update(), resolution()):
        await provider.send(n, None)
    assert [m.text for m in slack_server.messages(CHANNEL)] == [
        sb.message(update(), OPTIONS).text, sb.message(resolution(), OPTIONS).text]
    assert slack_server.updates() == []


async def test_a_channel_id_is_accepted_as_well_as_a_name(
        make: Make, slack_server: SlackServer) -> None:
    receipt = await make(channel="C0000000002").send(opening(), None)
    assert receipt["channel"] == "C0000000002"
    assert len(slack_server.messages("#branch-oncall")) == 1


# --- errors -----------------------------------------------------------------------------


async def failure(provider: SlackBotProvider, n: Notification | None = None,
                  thread: Receipt | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await provider.send(n or opening(), thread)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    # raised from None, if from anything: no traceback carries the request
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


@pytest.mark.parametrize("code", sorted(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
     "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "msg_too_long",
     "invalid_blocks"}))
async def test_each_permanent_slack_error_is_permanent(
        make: Make, slack_server: SlackServer, code: str) -> None:
    slack_server.set_error("chat.postMessage", code)
    error = await failure(make())
    assert isinstance(error, PermanentError)
    assert error.code == code
    assert code in PERMANENT_CODES


@pytest.mark.parametrize(("setup", "code"), [
    (lambda s: s.revoked.add("xoxb-revoked"), "token_revoked"),
    (lambda s: None, "invalid_auth"),
    (lambda s: s.archive(CHANNEL), "is_archived"),
    (lambda s: s.remove_bot(CHANNEL), "not_in_channel"),
    (lambda s: setattr(s, "scopes", "channels:history"), "missing_scope"),
])
async def test_the_real_refusals_of_slack_are_permanent(
        make: Make, slack_server: SlackServer, setup: Callable[[SlackServer], None],
        code: str) -> None:
    setup(slack_server)
    token = {"token_revoked": "xoxb-revoked", "invalid_auth": "xoxb-wrong"}.get(code, TOKEN)
    error = await failure(make(token=token))
    assert (type(error), error.code) == (PermanentError, code)
    assert token not in str(error)


async def test_an_unknown_channel_is_permanent(make: Make) -> None:
    error = await failure(make(channel="#nowhere"))
    assert (type(error), error.code) == (PermanentError, "channel_not_found")


async def test_a_429_is_retryable_after_the_seconds_slack_asked_for(
        make: Make, slack_server: SlackServer) -> None:
    slack_server.fail_next(error="ratelimited", retry_after=7)
    error = await failure(make())
    assert (type(error), error.code, error.retry_after) == (RetryableError, "ratelimited", 7.0)
    # slack-sdk's own retry handlers are off: one request, the outbox decides the rest
    assert len(slack_server.requests("chat.postMessage")) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_an_outage_is_retryable(make: Make, slack_server: SlackServer,
                                      status: int) -> None:
    slack_server.fail_next(status=status)
    error = await failure(make())
    assert (type(error), error.code) == (RetryableError, f"http_{status}")
    assert len(slack_server.requests("chat.postMessage")) == 1


@pytest.mark.parametrize("code", ["ratelimited", "internal_error", "service_unavailable",
                                  "request_timeout", "fatal_error", "a_code_slack_adds_later"])
async def test_transient_and_unknown_error_codes_are_retryable(
        make: Make, slack_server: SlackServer, code: str) -> None:
    slack_server.fail_next(error=code, status=200 if code != "ratelimited" else None)
    error = await failure(make())
    assert (type(error), error.code) == (RetryableError, code)


async def test_a_refused_connection_is_retryable(make: Make) -> None:
    provider = make(api_url=f"http://127.0.0.1:{closed_port()}/api/")
    error = await failure(provider)
    assert (type(error), error.code) == (RetryableError, "connection")


async def test_a_slack_that_never_answers_is_a_retryable_timeout(make: Make) -> None:
    async with tcp_server(hang) as silent:
        error = await failure(make(api_url=f"{silent.url}api/", timeout=0.3))
    assert (type(error), error.code) == (RetryableError, "timeout")


async def test_a_failed_edit_for_another_reason_is_raised(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    slack_server.fail_next(status=503, method="chat.update")
    error = await failure(provider, resolution(), thread)
    assert (type(error), error.code) == (RetryableError, "http_503")
    assert slack_server.replies(thread["ts"]) == []
    # the retry edits again (idempotent) and replies once
    await provider.send(resolution(), thread)
    assert len(slack_server.replies(thread["ts"])) == 1


# --- crash recovery ------------------------------------------------------------------


async def test_a_post_accepted_before_a_crash_is_found_not_repeated(
        make: Make, slack_server: SlackServer) -> None:
    n = opening()
    receipt = await make().send(n, None)
    restarted = make()  # a new process: nothing cached
    assert await restarted.find_delivered(n, None) == receipt
    assert await restarted.find_delivered(live(n, id="default/slack:ab12cd34:9"), None) is None


async def test_replies_and_fallback_posts_are_found_where_they_went(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    changed, done = update(), resolution()
    reply = await provider.send(changed, thread)
    slack_server.set_error("chat.update", "edit_window_closed")
    fallback = await provider.send(done, thread)
    restarted = make()
    assert await restarted.find_delivered(changed, thread) == reply
    assert await restarted.find_delivered(done, thread) == fallback
    reminder = live(notification(snapshot("x"), kind="reminder", seq=4))
    assert await restarted.find_delivered(reminder, thread) is None


async def test_a_resolution_whose_reply_was_posted_is_found_in_the_thread(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    done = resolution()
    receipt = await provider.send(done, thread)
    assert await make().find_delivered(done, thread) == receipt


async def test_the_lookup_reads_past_the_first_page(
        make: Make, slack_server: SlackServer) -> None:
    n = opening()
    receipt = await make().send(n, None)
    for i in range(450):
        slack_server.inject(CHANNEL, f"later message {i}")
    assert await make().find_delivered(n, None) == receipt
    pages = slack_server.requests("conversations.history")
    assert len(pages) == 3


async def test_a_channel_given_by_id_needs_no_channel_list(
        make: Make, slack_server: SlackServer) -> None:
    n = opening()
    receipt = await make(channel="C0000000001").send(n, None)
    assert await make(channel="C0000000001").find_delivered(n, None) == receipt
    assert slack_server.requests("conversations.list") == []


@pytest.mark.parametrize("scopes", ["chat:write,channels:read",  # no history
                                    "chat:write,channels:history"])  # cannot resolve a name
async def test_without_the_scopes_to_look_the_lookup_cannot_tell(
        make: Make, slack_server: SlackServer, scopes: str) -> None:
    n = opening()
    await make().send(n, None)
    slack_server.scopes = scopes
    assert await make().find_delivered(n, None) is None


async def test_a_lookup_during_an_outage_is_retried_not_skipped(
        make: Make, slack_server: SlackServer) -> None:
    n = opening()
    await make(channel="C0000000001").send(n, None)
    slack_server.fail_next(status=500, method="conversations.history")
    with pytest.raises(RetryableError):
        await make(channel="C0000000001").find_delivered(n, None)


# --- start-up check and lifecycle ----------------------------------------------------


async def test_check_is_quiet_when_posting_and_recovery_both_work(make: Make) -> None:
    assert await make().check() == []


async def test_check_warns_when_history_is_unreadable(
        make: Make, slack_server: SlackServer) -> None:
    slack_server.scopes = "chat:write,channels:read"
    [warning] = await make().check()
    assert "lacks channels:history" in warning
    assert "posted once more" in warning


async def test_check_asks_for_groups_history_for_a_private_channel() -> None:
    with SlackServer(private=[CHANNEL],
                     scopes="chat:write,channels:history,channels:read,groups:read") as slack:
        provider = build_provider(bot_receiver(slack.api_url, token=TOKEN), OPTIONS)
        try:
            [warning] = await provider.check()
        finally:
            await provider.close()
    assert "lacks groups:history" in warning


async def test_check_warns_when_the_channel_name_cannot_be_resolved(
        make: Make, slack_server: SlackServer) -> None:
    slack_server.scopes = "chat:write,channels:history"
    [warning] = await make().check()
    assert "cannot find the id of #channel-reliability" in warning
    assert await make(channel="C0000000001").check() == []


async def test_check_reports_a_refused_token_without_showing_it(make: Make) -> None:
    [warning] = await make(token="xoxb-not-a-real-token").check()
    assert warning == ("Slack receiver default/slack: the bot token was refused "
                       "(invalid_auth)")
    assert "xoxb-not-a-real-token" not in warning


async def test_check_reports_slack_unreachable(make: Make) -> None:
    [warning] = await make(api_url=f"http://127.0.0.1:{closed_port()}/api/").check()
    assert warning.endswith(": the bot token could not be checked (connection)")


async def test_close_releases_the_session_and_a_later_send_opens_another(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    await provider.send(opening(), None)
    session = provider._session
    await provider.close()
    assert session is not None
    assert session.closed
    await provider.send(opening(), None)
    assert len(slack_server.posts()) == 2


def test_the_token_is_in_no_repr(slack_server: SlackServer) -> None:
    provider = build_provider(bot_receiver(slack_server.api_url, token=TOKEN), OPTIONS)
    assert TOKEN not in repr(provider)
    assert TOKEN not in repr(provider.settings)  # type: ignore[attr-defined]


async def test_nothing_slack_received_carries_the_token(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    thread = await provider.send(opening(), None)
    await provider.send(resolution(), thread)
    await provider.find_delivered(opening(), None)
    recorded = json.dumps([(r.path, r.body) for r in slack_server.requests()])
    assert TOKEN not in recorded


async def test_the_token_stays_out_of_the_logs_even_at_debug(
        make: Make, slack_server: SlackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make()
    thread = await provider.send(opening(), None)
    await provider.send(resolution(), thread)
    assert await provider.check() == []
    assert TOKEN not in caplog.text
