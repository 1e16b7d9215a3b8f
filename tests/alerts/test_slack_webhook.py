"""The Slack incoming-webhook provider through slack-sdk against the local Slack."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.providers import build_provider
from alerts.providers import slack_blocks as sb
from alerts.providers.slack_webhook import SlackWebhookProvider
from tests.alerts.slack_samples import OPTIONS, live, notification, snapshot, webhook_receiver
from tests.servers import closed_port
from tests.slack_server import WEBHOOK_PATH, SlackServer

CHANNEL = "#channel-reliability"
SECRET = WEBHOOK_PATH.rsplit("/", 1)[1]
Make = Callable[..., SlackWebhookProvider]


@pytest.fixture
async def make(slack_server: SlackServer) -> AsyncIterator[Make]:
    built: list[SlackWebhookProvider] = []

    def factory(url: str | None = None) -> SlackWebhookProvider:
        provider = build_provider(webhook_receiver(url or slack_server.webhook_url), OPTIONS)
        assert isinstance(provider, SlackWebhookProvider)
        built.append(provider)
        return provider

    yield factory
    for provider in built:
        await provider.close()


async def test_every_notification_is_a_new_message_resolutions_too(
        make: Make, slack_server: SlackServer) -> None:
    provider = make()
    opened = live(notification(snapshot("core-gateway", severity="page", reason="timeout")))
    done = live(notification(snapshot("core-gateway", severity="page", status="resolved"),
                             kind="resolved", seq=2))
    assert await provider.send(opened, None) == {}
    assert await provider.send(done, {"channel": "C0000000001", "ts": "1.0"}) == {}
    messages = slack_server.messages(CHANNEL)
    assert [(m.text, m.blocks, m.via) for m in messages] == [
        (sb.message(opened, OPTIONS).text, sb.message(opened, OPTIONS).blocks_list(),
         "webhook"),
        (sb.message(done, OPTIONS).text, sb.message(done, OPTIONS).blocks_list(), "webhook")]
    assert slack_server.updates() == []
    assert slack_server.requests("chat.postMessage") == []


async def failure(provider: SlackWebhookProvider) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await provider.send(live(notification(snapshot("a"))), None)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    # raised from None, if from anything: no traceback carries the request
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return caught.value


@pytest.mark.parametrize(("status", "code"), [
    (400, "invalid_payload"), (403, "action_prohibited"), (404, "no_service"),
    (410, "channel_is_archived")])
async def test_refusals_are_permanent(make: Make, slack_server: SlackServer, status: int,
                                      code: str) -> None:
    slack_server.fail_next(status=status, error=code, method="webhook")
    error = await failure(make())
    assert (type(error), error.code) == (PermanentError, code)


async def test_a_removed_hook_and_an_archived_channel_are_permanent(
        make: Make, slack_server: SlackServer) -> None:
    error = await failure(make(slack_server.url + "/services/T0000TEST/B0000HOOK/revoked"))
    assert (type(error), error.code) == (PermanentError, "no_service")
    slack_server.archive(CHANNEL)
    error = await failure(make())
    assert (type(error), error.code) == (PermanentError, "channel_is_archived")


async def test_a_429_is_retryable_after_the_seconds_slack_asked_for(
        make: Make, slack_server: SlackServer) -> None:
    slack_server.fail_next(error="ratelimited", retry_after=30, method="webhook")
    error = await failure(make())
    assert (type(error), error.code, error.retry_after) == (RetryableError, "ratelimited", 30.0)
    assert len(slack_server.requests("webhook")) == 1  # no retries inside slack-sdk


@pytest.mark.parametrize("status", [500, 503])
async def test_an_outage_is_retryable(make: Make, slack_server: SlackServer,
                                      status: int) -> None:
    slack_server.fail_next(status=status, method="webhook")
    error = await failure(make())
    assert (type(error), error.code) == (RetryableError, f"http_{status}")


async def test_a_refused_connection_is_retryable(make: Make) -> None:
    error = await failure(make(f"http://127.0.0.1:{closed_port()}{WEBHOOK_PATH}"))
    assert (type(error), error.code) == (RetryableError, "connection")


async def test_nothing_can_be_looked_up_and_check_says_so_without_the_url(
        make: Make) -> None:
    provider = make()
    n = live(notification(snapshot("a")))
    await provider.send(n, None)
    assert await provider.find_delivered(n, None) is None
    [warning] = await provider.check()
    assert "incoming webhook" in warning
    assert "posted once more" in warning
    assert SECRET not in warning
    assert SECRET not in repr(provider)


async def test_the_url_stays_out_of_the_logs_even_at_debug(
        make: Make, slack_server: SlackServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    slack_server.fail_next(status=500, method="webhook")
    provider = make()
    for _ in range(2):  # a failure, then a success
        with contextlib.suppress(DeliveryError):
            await provider.send(live(notification(snapshot("a"))), None)
    assert len(slack_server.messages(CHANNEL)) == 1
    assert SECRET not in caplog.text
