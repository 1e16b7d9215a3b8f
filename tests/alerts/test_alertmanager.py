"""The Alertmanager provider: its pure postable-alert builder, then a real Alertmanager
(Debian's binary on loopback) receiving our alerts, showing them, and resolving them.

What Alertmanager 0.25 does with a resolved alert (found by experiment, pinned below):
``GET /api/v2/alerts`` never lists an alert whose ``endsAt`` has passed, whatever its
``active`` / ``silenced`` / ``inhibited`` / ``unprocessed`` filters say (nor does
``/api/v2/alerts/groups``); the resolution is visible in what Alertmanager notifies, so
a webhook receiver on a local server shows it ``resolved`` with our ``endsAt``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alerts.errors import PermanentError
from alerts.model import AlertSnapshot
from alerts.providers import RenderOptions, build_provider
from alerts.providers.alertmanager import (
    FIRING_VALIDITY_INTERVALS,
    AlertmanagerProvider,
    generator_url,
    postable_alert,
    postable_alerts,
    rfc3339,
)
from tests.alertmanager import Alertmanager, alertmanager, running_alertmanager, webhook_config
from tests.alerts.httpkit import Answer, Received, am_receiver, notification, recorder, snap
from tests.servers import closed_port

__all__ = ["alertmanager"]

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
OPTIONS = RenderOptions(external_url="http://127.0.0.1:9470/")


# --- the pure builder ------------------------------------------------------------------

@pytest.mark.parametrize(("ts", "text"), [
    (T0, "2023-11-14T22:13:20Z"),
    (T0 + 0.5, "2023-11-14T22:13:20.5Z"),
    (T0 + 0.123456, "2023-11-14T22:13:20.123456Z"),
    (0.0, "1970-01-01T00:00:00Z"),
])
def test_rfc3339_writes_utc_as_go_does(ts: float, text: str) -> None:
    assert rfc3339(ts) == text


def test_firing_alert_is_valid_for_three_resend_intervals() -> None:
    a = snap("firing", T0 - 300, alertname="TargetDown", channel="branch",
             target="core-gateway", annotations={"summary": "core-gateway is down"})
    doc = postable_alert(a, OPTIONS, now=T0, resend_interval_seconds=60)
    assert FIRING_VALIDITY_INTERVALS == 3
    assert doc == {
        "labels": {"alertname": "TargetDown", "channel": "branch", "target": "core-gateway"},
        "annotations": {"summary": "core-gateway is down"},
        "startsAt": "2023-11-14T22:08:20Z",
        "endsAt": "2023-11-14T22:16:20Z",
        "generatorURL": f"http://127.0.0.1:9470/?alert={a.fingerprint}",
    }


def test_resolved_alert_ends_when_it_resolved_and_without_url_has_no_generator() -> None:
    a = snap("resolved", T0 - 300, T0 - 10.25, alertname="TargetDown", target="x")
    doc = postable_alert(a, RenderOptions(), now=T0, resend_interval_seconds=60)
    assert doc == {"labels": {"alertname": "TargetDown", "target": "x"}, "annotations": {},
                   "startsAt": "2023-11-14T22:08:20Z", "endsAt": "2023-11-14T22:13:09.75Z"}


def test_resolved_alert_without_an_end_ends_now_and_never_before_it_started() -> None:
    a = snap("resolved", T0 - 300, alertname="A")
    assert postable_alert(a, OPTIONS, now=T0, resend_interval_seconds=60)["endsAt"] == \
        rfc3339(T0)
    early = snap("resolved", T0, T0 - 5, alertname="A")  # a clock that stepped back
    doc = postable_alert(early, OPTIONS, now=T0, resend_interval_seconds=60)
    assert doc["endsAt"] == doc["startsAt"] == rfc3339(T0)


def test_generator_url_needs_an_external_url() -> None:
    assert generator_url(RenderOptions(), "abc") is None
    assert generator_url(RenderOptions(external_url="https://ow.example/status"), "abc") == \
        "https://ow.example/status/?alert=abc"


def test_postable_alerts_keep_the_order() -> None:
    alerts = [snap("firing", T0, alertname="A", n=str(i)) for i in range(3)]
    docs = postable_alerts(alerts, OPTIONS, now=T0, resend_interval_seconds=60)
    assert [d["labels"]["n"] for d in docs] == ["0", "1", "2"]


# --- what is posted --------------------------------------------------------------------

async def test_send_posts_v2_alerts_and_sync_posts_nothing_for_none() -> None:
    firing = snap("firing", T0, alertname="A", target="t1")
    resolved = snap("resolved", T0, T0 + 30, alertname="A", target="t2")
    async with recorder() as rec:
        provider = build_provider(am_receiver(rec.url + "/am/"), OPTIONS)
        assert isinstance(provider, AlertmanagerProvider)
        try:
            before = time.time()
            assert await provider.send(notification(firing, resolved), None) == \
                {"status": "200"}
            after = time.time()
            await provider.sync([])
            await provider.sync([resolved])
            assert await provider.find_delivered(notification(firing), None) is None
        finally:
            await provider.close()
    assert [(r.method, r.path) for r in rec.received] == [("POST", "/am/api/v2/alerts")] * 2
    assert rec.received[0].headers["content-type"] == "application/json"
    sent = json.loads(rec.received[0].body)
    assert [d["labels"]["target"] for d in sent] == ["t1", "t2"]
    ends = _parse(sent[0]["endsAt"])
    assert before + 180 - 1e-6 <= ends <= after + 180 + 1e-6
    assert sent[1]["endsAt"] == rfc3339(T0 + 30)
    assert json.loads(rec.received[1].body) == sent[1:]


# --- a real Alertmanager ---------------------------------------------------------------

def _parse(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def _api(am: Alertmanager, path: str) -> Any:
    return await asyncio.to_thread(am.get, path)


async def _eventually(check: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)


def _notified(received: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received if r.path == "/am-hook"]


def _by_target(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["labels"]["target"]: a for a in alerts}


async def test_alertmanager_shows_our_alerts_then_resolves_them(tmp_path: Path) -> None:
    now = float(int(time.time()))
    starts = now - 120
    core = snap("firing", starts, alertname="TargetDown", channel="branch",
                target="core-gateway", severity="page",
                annotations={"summary": "core-gateway is down", "reason": "connect_refused"})
    teller = snap("firing", starts, alertname="TargetDown", channel="branch",
                  target="teller", severity="page", annotations={"summary": "teller is down"})
    async with recorder() as hook:
        with running_alertmanager(tmp_path, webhook_config(hook.url + "/am-hook")) as am:
            provider = AlertmanagerProvider(am_receiver(am.url), OPTIONS)
            try:
                await _check_firing(am, hook.received, provider, core, teller)
                await _check_resolved(am, hook.received, provider, core, teller)
                assert await provider.check() == []
            finally:
                await provider.close()


async def _check_firing(am: Alertmanager, received: list[Received],
                        provider: AlertmanagerProvider, core: AlertSnapshot,
                        teller: AlertSnapshot) -> None:
    before = time.time()
    assert await provider.send(notification(core, teller), None) == {"status": "200"}
    after = time.time()
    listed = _by_target(await _api(am, "/api/v2/alerts"))
    assert set(listed) == {"core-gateway", "teller"}
    for alert, shown in ((core, listed["core-gateway"]), (teller, listed["teller"])):
        assert shown["labels"] == dict(alert.labels)
        assert shown["annotations"] == dict(alert.annotations)
        assert _parse(shown["startsAt"]) == alert.starts_at
        assert shown["generatorURL"] == f"http://127.0.0.1:9470/?alert={alert.fingerprint}"
        assert shown["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
        assert shown["receivers"] == [{"name": "hook"}]
        # Alertmanager shows milliseconds, cut (not rounded).
        assert before + 180 - 0.001 <= _parse(shown["endsAt"]) <= after + 180
    first = await _eventually(lambda: _notified(received), "Alertmanager's firing notice")
    assert first[0]["status"] == "firing"
    assert {a["labels"]["target"]: a["status"] for a in first[0]["alerts"]} == \
        {"core-gateway": "firing", "teller": "firing"}


async def _check_resolved(am: Alertmanager, received: list[Received],
                          provider: AlertmanagerProvider, core: AlertSnapshot,
                          teller: AlertSnapshot) -> None:
    ends = time.time() - 1.5
    core_resolved = AlertSnapshot(core.fingerprint, "resolved", core.labels,
                                  core.annotations, core.starts_at, ends)
    await provider.send(notification(core_resolved, teller, kind="update", seq=2), None)
    for query in ("", "?active=false&silenced=true&inhibited=true&unprocessed=true",
                  "?active=true&silenced=true&inhibited=true&unprocessed=true",
                  "?active=false&silenced=false&inhibited=false&unprocessed=false"):
        listed = _by_target(await _api(am, "/api/v2/alerts" + query))
        assert "core-gateway" not in listed, query
    assert set(_by_target(await _api(am, "/api/v2/alerts"))) == {"teller"}
    groups = await _api(am, "/api/v2/alerts/groups")
    assert [a["labels"]["target"] for g in groups for a in g["alerts"]] == ["teller"]

    def resolved_notice() -> dict[str, Any] | None:
        for doc in _notified(received):
            states = _by_target(doc["alerts"])
            if states.get("core-gateway", {}).get("status") == "resolved":
                return doc
        return None

    doc = await _eventually(resolved_notice, "Alertmanager's notice of the resolution")
    shown = _by_target(doc["alerts"])
    assert shown["core-gateway"]["endsAt"] == rfc3339(ends)
    assert shown["teller"]["status"] == "firing"

    # The periodic re-send with the last firing alert resolved: nothing is listed, and
    # Alertmanager tells its receiver the whole group is resolved.
    teller_resolved = AlertSnapshot(teller.fingerprint, "resolved", teller.labels,
                                    teller.annotations, teller.starts_at, time.time() - 1)
    await provider.sync([core_resolved, teller_resolved])
    assert await _api(am, "/api/v2/alerts") == []
    await _eventually(lambda: any(d["status"] == "resolved" for d in _notified(received)),
                      "Alertmanager's notice that the group is resolved")


async def test_check_reports_an_unreachable_or_failing_alertmanager(
        alertmanager: Alertmanager) -> None:
    good = AlertmanagerProvider(am_receiver(alertmanager.url), OPTIONS)
    port = closed_port()
    down = AlertmanagerProvider(am_receiver(f"http://user:pw@127.0.0.1:{port}"), OPTIONS)
    try:
        assert await good.check() == []
        problems = await down.check()
        assert len(problems) == 1
        assert problems[0].startswith(
            f"alertmanager unreachable: http://127.0.0.1:{port}: "
            "ClientConnectorError: ")
        assert "pw" not in problems[0]
        async with recorder() as rec:
            rec.answers.append(Answer(500, b"boom"))
            failing = AlertmanagerProvider(am_receiver(rec.url), OPTIONS)
            try:
                assert await failing.check() == [
                    f"alertmanager {rec.url}: GET /api/v2/status answered http_500: boom"]
            finally:
                await failing.close()
    finally:
        await good.close()
        await down.close()


async def test_alertmanager_refuses_what_it_cannot_take(alertmanager: Alertmanager) -> None:
    """A 400 from the real server is permanent and carries its reason."""
    provider = AlertmanagerProvider(am_receiver(alertmanager.url), OPTIONS)
    bad = snap("firing", T0, **{"alertname": "A", "bad-name": "x"})
    try:
        with pytest.raises(PermanentError) as info:
            await provider.send(notification(bad), None)
    finally:
        await provider.close()
    assert info.value.code == "http_400"
    assert str(info.value) == 'http_400: invalid label set: invalid name "bad-name"'
