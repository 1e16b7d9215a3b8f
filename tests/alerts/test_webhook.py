"""The webhook provider: Alertmanager's webhook payload (version 4), signed as Standard
Webhooks do.  Signatures are checked independently here (HMAC recomputed from the spec,
and the spec's published test vector); the body is pinned byte for byte, and compared
with what a real Alertmanager posts for the same alerts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from alerts.errors import PermanentError, RetryableError
from alerts.model import AlertSnapshot
from alerts.providers import RenderOptions, build_provider
from alerts.providers.alertmanager import AlertmanagerProvider
from alerts.providers.webhook import (
    GO_ZERO_TIME,
    WebhookProvider,
    build_body,
    payload,
    sign,
    signing_key,
)
from tests.alertmanager import running_alertmanager, webhook_config
from tests.alerts.httpkit import (
    Answer,
    Received,
    am_receiver,
    notification,
    recorder,
    snap,
    webhook_receiver,
)

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
OPTIONS = RenderOptions(external_url="http://127.0.0.1:9470")


def _hmac_b64(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The spec's scheme, written out again: base64(HMAC-SHA256(key, id.ts.body))."""
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body,
                   hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


# --- signing ---------------------------------------------------------------------------

def test_the_standard_webhooks_test_vector() -> None:
    # From the Standard Webhooks reference library's tests (test_sign_function).
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330, b'{"test": 2432232314}') == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_whsec_secret_is_base64_and_any_other_is_its_utf8_bytes() -> None:
    raw = secrets.token_bytes(32)
    assert signing_key("whsec_" + base64.b64encode(raw).decode()) == raw
    assert signing_key("plain secret ü") == "plain secret ü".encode()
    body = b'{"a":1}'
    assert sign("plain secret ü", "id-1", 42, body) == \
        "v1," + _hmac_b64("plain secret ü".encode(), "id-1", "42", body)


def test_a_whsec_secret_that_is_not_base64_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError, match="not base64") as info:
        signing_key("whsec_not*base64!")
    assert "not*base64" not in str(info.value)


# --- the body --------------------------------------------------------------------------

CORE = snap("firing", T0 - 300, alertname="TargetDown", channel="branch",
            target="core-gateway", severity="page",
            annotations={"summary": "core-gateway is down", "reason": "connect_refused"})
TELLER = snap("resolved", T0 - 600, T0 - 60.5, alertname="TargetDown", channel="branch",
              target="teller", severity="page",
              annotations={"summary": "teller is down", "reason": "timeout"})


def test_the_body_is_alertmanagers_webhook_payload_plus_our_extension() -> None:
    note = notification(CORE, TELLER, kind="update", seq=2)
    body = build_body(note, webhook_receiver("http://127.0.0.1:1/"), OPTIONS)
    fp_core, fp_teller = CORE.fingerprint, TELLER.fingerprint
    assert body.decode() == (
        '{"receiver":"default/webhook","status":"firing","alerts":['
        '{"status":"firing","labels":{"alertname":"TargetDown","channel":"branch",'
        '"severity":"page","target":"core-gateway"},"annotations":{"reason":'
        '"connect_refused","summary":"core-gateway is down"},'
        '"startsAt":"2023-11-14T22:08:20Z","endsAt":"0001-01-01T00:00:00Z",'
        f'"generatorURL":"http://127.0.0.1:9470/?alert={fp_core}",'
        f'"fingerprint":"{fp_core}"}},'
        '{"status":"resolved","labels":{"alertname":"TargetDown","channel":"branch",'
        '"severity":"page","target":"teller"},"annotations":{"reason":"timeout",'
        '"summary":"teller is down"},'
        '"startsAt":"2023-11-14T22:03:20Z","endsAt":"2023-11-14T22:12:19.5Z",'
        f'"generatorURL":"http://127.0.0.1:9470/?alert={fp_teller}",'
        f'"fingerprint":"{fp_teller}"}}],'
        '"groupLabels":{"alertname":"TargetDown"},'
        '"commonLabels":{"alertname":"TargetDown","channel":"branch","severity":"page"},'
        '"commonAnnotations":{},'
        '"externalURL":"http://127.0.0.1:9470","version":"4",'
        '"groupKey":"{}:{alertname=\\"TargetDown\\"}","truncatedAlerts":0,'
        f'"omniwatch":{{"id":"{note.id}","kind":"update","episode":"{note.episode}"}}}}')
    assert note.episode != note.id  # a follow-up names the notification that opened it


def test_status_is_resolved_only_when_nothing_fires() -> None:
    receiver = webhook_receiver("http://127.0.0.1:1/")
    assert payload(notification(TELLER, kind="resolved"), receiver, OPTIONS)["status"] == \
        "resolved"
    assert payload(notification(CORE, TELLER), receiver, OPTIONS)["status"] == "firing"


def test_without_external_url_links_are_empty_and_a_resolved_alert_without_end() -> None:
    loose = snap("resolved", T0 - 60, alertname="A", target="x")
    doc = payload(notification(loose, created_at=T0 + 1), webhook_receiver("http://h/"),
                  RenderOptions())
    assert doc["externalURL"] == ""
    assert doc["alerts"][0]["generatorURL"] == ""
    assert doc["alerts"][0]["endsAt"] == "2023-11-14T22:13:21Z"  # the notification's time
    assert doc["commonAnnotations"] == {}


def test_common_labels_and_annotations_are_the_shared_pairs() -> None:
    a = snap("firing", T0, annotations={"summary": "s", "x": "1"}, alertname="A", t="1")
    b = snap("firing", T0, annotations={"summary": "s", "x": "2"}, alertname="A", t="2")
    doc = payload(notification(a, b), webhook_receiver("http://h/"), OPTIONS)
    assert doc["commonLabels"] == {"alertname": "A"}
    assert doc["commonAnnotations"] == {"summary": "s"}
    empty = payload(notification(kind="test"), webhook_receiver("http://h/"), OPTIONS)
    assert (empty["alerts"], empty["commonLabels"], empty["status"]) == ([], {}, "resolved")


# --- delivery --------------------------------------------------------------------------

def _check_signed(got: Received, key: bytes, body: bytes, msg_id: str) -> None:
    assert got.body == body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == msg_id
    timestamp = got.headers["webhook-timestamp"]
    assert timestamp.isdigit()
    assert abs(int(timestamp) - time.time()) < 600  # the attempt's own clock, not the event's
    version, _, signature = got.headers["webhook-signature"].partition(",")
    assert version == "v1"
    assert hmac.compare_digest(signature, _hmac_b64(key, msg_id, timestamp, body))


@pytest.mark.parametrize("secret_kind", ["whsec", "plain"])
async def test_a_post_is_signed_as_standard_webhooks_say(secret_kind: str) -> None:
    raw = secrets.token_bytes(32)
    secret, key = (("whsec_" + base64.b64encode(raw).decode(), raw)
                   if secret_kind == "whsec" else ("a plain shared secret, 32 bytes!", b""))
    key = key or secret.encode()
    note = notification(CORE, TELLER, kind="update", seq=2)
    async with recorder(Answer(204)) as rec:
        receiver = webhook_receiver(rec.url + "/omniwatch", secret)
        provider = build_provider(receiver, OPTIONS)
        assert isinstance(provider, WebhookProvider)
        try:
            assert await provider.check() == []
            assert await provider.send(note, None) == {"status": "204"}
            assert await provider.find_delivered(note, None) is None
        finally:
            await provider.close()
    [got] = rec.received
    assert (got.method, got.path) == ("POST", "/omniwatch")
    assert got.headers["user-agent"] == "omniwatch"
    _check_signed(got, key, build_body(note, receiver, OPTIONS), note.id)
    assert json.loads(got.body) == payload(note, receiver, OPTIONS)


async def test_without_a_secret_nothing_is_signed_but_id_and_timestamp_are_sent() -> None:
    note = notification(CORE)
    async with recorder() as rec:
        provider = WebhookProvider(webhook_receiver(rec.url), OPTIONS)
        try:
            assert await provider.check() == []
            await provider.send(note, None)
        finally:
            await provider.close()
    [got] = rec.received
    assert "webhook-signature" not in got.headers
    assert got.headers["webhook-id"] == note.id
    assert got.headers["webhook-timestamp"].isdigit()


async def test_a_retry_carries_the_same_webhook_id_signed_anew() -> None:
    raw = secrets.token_bytes(24)
    note = notification(CORE)
    async with recorder(Answer(503, b"busy", {"Retry-After": "2"})) as rec:
        receiver = webhook_receiver(rec.url, "whsec_" + base64.b64encode(raw).decode())
        provider = WebhookProvider(receiver, OPTIONS)
        try:
            with pytest.raises(RetryableError) as info:
                await provider.send(note, None)
            assert (info.value.code, info.value.retry_after) == ("http_503", 2.0)
            await provider.send(note, None)
        finally:
            await provider.close()
    first, second = rec.received
    body = build_body(note, receiver, OPTIONS)
    for got in (first, second):
        _check_signed(got, raw, body, note.id)


async def test_a_secret_that_cannot_be_used_is_reported_and_permanent() -> None:
    async with recorder() as rec:
        provider = WebhookProvider(webhook_receiver(rec.url, "whsec_%%sekrit%%"), OPTIONS)
        try:
            [problem] = await provider.check()
            with pytest.raises(PermanentError) as info:
                await provider.send(notification(CORE), None)
        finally:
            await provider.close()
    assert rec.received == []
    assert info.value.code == "invalid_secret"
    assert problem.startswith(f"webhook {rec.url}: ")
    for text in (problem, str(info.value), repr(provider)):
        assert "sekrit" not in text


async def test_a_short_secret_is_worth_a_warning() -> None:
    provider = WebhookProvider(webhook_receiver("http://127.0.0.1:1/", "tiny"), OPTIONS)
    assert await provider.check() == [
        "webhook http://127.0.0.1:1: the secret is 4 bytes; Standard Webhooks asks for at "
        "least 24 random bytes"]
    await provider.close()


def test_repr_names_neither_secret_nor_credentials() -> None:
    provider = WebhookProvider(
        webhook_receiver("https://bot:pw@127.0.0.1:8443/hook/T0KEN", "whsec_" + "Q" * 32),
        OPTIONS)
    assert repr(provider) == "WebhookProvider(url='https://127.0.0.1:8443', signed=True)"


# --- against Alertmanager's own webhook ------------------------------------------------

def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """What must agree with Alertmanager: all but the ids and names that are each
    system's own (receiver, groupKey, externalURL, fingerprints) and our extension."""
    out = {k: v for k, v in doc.items()
           if k not in ("receiver", "groupKey", "externalURL", "omniwatch")}
    out["alerts"] = sorted(({k: v for k, v in a.items() if k != "fingerprint"}
                            for a in doc["alerts"]), key=lambda a: a["labels"]["target"])
    return out


async def _am_notice(received: list[Received], wanted: dict[str, str]) -> dict[str, Any]:
    """Alertmanager's first webhook post whose alert states are ``wanted``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for r in received:
            doc = json.loads(r.body)
            if {a["labels"]["target"]: a["status"] for a in doc["alerts"]} == wanted:
                return doc
        await asyncio.sleep(0.1)
    pytest.fail(f"Alertmanager never notified {wanted}")


async def test_our_body_matches_what_alertmanager_posts(tmp_path: Path) -> None:
    now = float(int(time.time()))
    core = snap("firing", now - 300, alertname="TargetDown", channel="branch",
                target="core-gateway", annotations={"summary": "down", "reason": "refused"})
    teller = snap("firing", now - 200.25, alertname="TargetDown", channel="branch",
                  target="teller", annotations={"summary": "down", "reason": "timeout"})
    webhook = webhook_receiver("http://127.0.0.1:1/")
    async with recorder() as hook:
        with running_alertmanager(tmp_path, webhook_config(hook.url)) as am:
            provider = AlertmanagerProvider(am_receiver(am.url), OPTIONS)
            try:
                first = notification(core, teller)
                await provider.send(first, None)
                theirs = await _am_notice(hook.received,
                                          {"core-gateway": "firing", "teller": "firing"})
                ours = payload(first, webhook, OPTIONS)
                assert list(theirs) == [k for k in ours if k != "omniwatch"]
                assert [list(a) for a in theirs["alerts"]] == [list(a) for a in ours["alerts"]]
                assert _comparable(theirs) == _comparable(ours)
                assert theirs["alerts"][0]["endsAt"] == GO_ZERO_TIME

                ended = AlertSnapshot(core.fingerprint, "resolved", core.labels,
                                      core.annotations, core.starts_at, time.time() - 1)
                second = notification(ended, teller, kind="update", seq=2)
                await provider.send(second, None)
                theirs = await _am_notice(hook.received,
                                          {"core-gateway": "resolved", "teller": "firing"})
                assert _comparable(theirs) == _comparable(payload(second, webhook, OPTIONS))
            finally:
                await provider.close()
