"""The local Slack itself, where the provider tests do not reach: form bodies, the token
field, limits, history paging, timed outages, and use from another process."""

from __future__ import annotations

import json
import subprocess
import sys

import aiohttp
import pytest

from tests.slack_server import TOKEN, SlackServer

BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def call(slack: SlackServer, method: str, *, headers: dict[str, str] | None = None,
               **kwargs: object) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.post(
            slack.api_url + method, headers=headers, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.json()


async def test_a_form_body_with_a_token_field_posts_like_json_with_a_bearer(
        slack_server: SlackServer) -> None:
    status, form = await call(slack_server, "chat.postMessage", data={
        "token": TOKEN, "channel": "#channel-reliability", "text": "hello",
        "blocks": json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]),
        "metadata": json.dumps({"event_type": "x", "event_payload": {"id": "1"}})})
    assert status == 200
    assert form["ok"] is True
    assert form["channel"] == "C0000000001"
    _, js = await call(slack_server, "chat.postMessage", headers=BEARER,
                       json={"channel": "C0000000001", "text": "again"})
    assert js["ok"] is True
    first, second = slack_server.messages("#channel-reliability")
    assert first.metadata == {"event_type": "x", "event_payload": {"id": "1"}}
    assert first.blocks[0]["text"]["text"] == "hi"
    assert second.text == "again"
    assert "token" not in slack_server.requests()[0].body


async def test_auth_failures_answer_like_slack() -> None:
    with SlackServer(revoked=["xoxb-old"]) as slack:
        assert (await call(slack, "auth.test"))[1] == {"ok": False, "error": "not_authed"}
        _, revoked = await call(slack, "auth.test", headers={"Authorization": "Bearer xoxb-old"})
        _, wrong = await call(slack, "auth.test", headers={"Authorization": "Bearer nope"})
        assert (revoked["error"], wrong["error"]) == ("token_revoked", "invalid_auth")


async def test_oversized_payloads_are_refused(slack_server: SlackServer) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    checks = {"invalid_blocks": {"blocks": [section]},
              "msg_too_long": {"text": "x" * 40001}}
    for code, body in checks.items():
        _, answer = await call(slack_server, "chat.postMessage", headers=BEARER,
                               json={"channel": "C0000000001", **body})
        assert answer["error"] == code
    many = [{"type": "divider"}] * 51
    _, answer = await call(slack_server, "chat.postMessage", headers=BEARER,
                           json={"channel": "C0000000001", "text": "t", "blocks": many})
    assert answer["error"] == "invalid_blocks"
    assert slack_server.messages("C0000000001") == []


async def test_history_is_newest_first_paged_and_metadata_only_on_request(
        slack_server: SlackServer) -> None:
    for i in range(3):
        slack_server.inject("#channel-reliability", f"m{i}",
                            metadata={"event_type": "t", "event_payload": {"i": i}})
    params = {"channel": "C0000000001", "limit": "2"}
    async with aiohttp.ClientSession() as session:
        async with session.get(slack_server.api_url + "conversations.history",
                               params=params, headers=BEARER) as r:
            page = await r.json()
        async with session.get(slack_server.api_url + "conversations.history", headers=BEARER,
                               params={**params, "include_all_metadata": "1",
                                       "cursor": page["response_metadata"]["next_cursor"]}) as r:
            rest = await r.json()
    assert [m["text"] for m in page["messages"]] == ["m2", "m1"]
    assert page["has_more"]
    assert "metadata" not in page["messages"][0]
    assert [m["metadata"]["event_payload"] for m in rest["messages"]] == [{"i": 0}]
    assert rest["has_more"] is False


async def test_scopes_gate_reads_and_come_back_in_a_header() -> None:
    with SlackServer(scopes="chat:write") as slack:
        async with aiohttp.ClientSession() as session, session.get(
                slack.api_url + "conversations.history", headers=BEARER,
                params={"channel": "C0000000001"}) as r:
            body = await r.json()
            assert r.headers["x-oauth-scopes"] == "chat:write"
    assert (body["error"], body["needed"]) == ("missing_scope", "channels:history")


async def test_fail_for_answers_every_request_until_cleared(slack_server: SlackServer) -> None:
    slack_server.fail_for(60, status=503)
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(slack_server.api_url + "auth.test", headers=BEARER) as r:
                assert (r.status, r.content_type) == (503, "text/html")
    slack_server.clear_faults()
    assert (await call(slack_server, "auth.test", headers=BEARER))[1]["ok"] is True


async def test_a_late_answer_comes_after_the_post_is_stored(slack_server: SlackServer) -> None:
    slack_server.answer_late(60, method="chat.postMessage")
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(TimeoutError):
            async with session.post(slack_server.api_url + "chat.postMessage", headers=BEARER,
                                    json={"channel": "C0000000001", "text": "accepted"}):
                pass
    [message] = slack_server.messages("#channel-reliability")  # stored, though unanswered
    assert message.text == "accepted"
    assert slack_server.requests("chat.postMessage")[0].status == 200
    # Only the next post was late: the one after it is answered at once.
    _, answer = await call(slack_server, "chat.postMessage", headers=BEARER,
                           json={"channel": "C0000000001", "text": "on time"})
    assert answer["ok"] is True


def test_another_process_can_post_to_the_webhook(slack_server: SlackServer) -> None:
    script = ("import json, sys, urllib.request\n"
              "r = urllib.request.Request(sys.argv[1], data=json.dumps({'text': 'from a child'})"
              ".encode(), headers={'Content-Type': 'application/json'})\n"
              "print(urllib.request.urlopen(r, timeout=5).read().decode())")
    out = subprocess.run([sys.executable, "-c", script, slack_server.webhook_url],
                         capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "ok"
    [message] = slack_server.messages("#channel-reliability")
    assert (message.text, message.via) == ("from a child", "webhook")
    assert slack_server.requests("webhook")[0].path.endswith("/…")  # the secret unrecorded
