"""The journey probe against the fake bank API (tests/bankapi.py) and small aiohttp apps.

Specs are built from the model dataclasses directly, as the config builder would.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.config.model import (
    Extract,
    HttpExpect,
    HttpSpec,
    JourneySpec,
    JourneyStep,
    Target,
    TlsClientConfig,
)
from probes import PROBES, journey
from probes.context import ProbeContext
from probes.result import PHASES, REASONS, ProbeResult, StepResult
from probes.runner import run_target
from tests.bankapi import ACCOUNT, PASSWORD, BankApi, Fault, bank_api
from tests.servers import Pki, http_server

SCHEMA = {"type": "object", "required": ["balance", "currency"]}


def steps(base: str, *, login_expect: HttpExpect | None = None,
          balance_expect: HttpExpect | None = None,
          login_extract: tuple[Extract, ...] | None = None) -> tuple[JourneyStep, ...]:
    """login, balance, transfer against the bank API, extracting every kind."""
    return (
        JourneyStep(
            "login",
            HttpSpec(f"{base}/api/login", method="POST",
                     expect=login_expect or HttpExpect(status=(200,), json={"code": "0"})),
            json_body={"user": "{{ user }}", "password": "{{ password }}"},
            extract=login_extract or (Extract("token", "json", "$.data.token"),
                                      Extract("sid", "cookie", "SESSIONID")),
        ),
        JourneyStep(
            "balance",
            HttpSpec(f"{base}/api/accounts/{{{{ account }}}}/balance",
                     headers=(("Authorization", "Bearer {{ token }}"),),
                     expect=balance_expect or HttpExpect(json_schema=SCHEMA)),
            extract=(Extract("request_id", "header", "x-REQUEST-id"),
                     Extract("amount", "regex", r'"balance":\s*"(?P<amount>[\d.]+)"',
                             "amount"),
                     Extract("currency", "regex", r'"currency":\s*"(\w+)"')),
        ),
        JourneyStep(
            "transfer",
            HttpSpec(f"{base}/api/transfers", method="POST"),
            json_body={"to": "TEST-ACCT", "amount": "0.01"},
            extract=(Extract("transfer_id", "json", "$.id"),),
        ),
    )


def finally_steps(base: str, *, report: bool = True) -> tuple[JourneyStep, ...]:
    """cancel the transfer, then log out (with ``report``, telling the server what was
    extracted)."""
    query = "?rid={{ request_id }}&amount={{ amount }}&currency={{ currency }}"
    return (
        JourneyStep("cancel", HttpSpec(f"{base}/api/transfers/{{{{ transfer_id }}}}",
                                       method="DELETE")),
        JourneyStep("logout", HttpSpec(f"{base}/api/logout{query if report else ''}")),
    )


VARS = (("user", "test-customer"), ("password", PASSWORD), ("account", ACCOUNT))


def target(spec: JourneySpec, *, timeout: float = 5.0) -> Target:
    return Target(name="app-transfer", channel="app", kind="journey", spec=spec,
                  timeout_seconds=timeout)


def bank_journey(api: BankApi, *, timeout: float = 5.0, with_finally: bool = True,
                 report: bool = True, **kw: Any) -> Target:
    spec = JourneySpec(steps(api.url, **kw),
                       finally_steps(api.url, report=report) if with_finally else (),
                       vars=VARS)
    return target(spec, timeout=timeout)


async def run(t: Target, ctx: ProbeContext | None = None) -> ProbeResult:
    result = await journey.probe(t, ctx or ProbeContext())
    assert result.reason in REASONS
    assert set(result.phases) == set(PHASES)
    assert all(v >= 0 for v in result.phases.values()), result.phases
    return result


def by_name(result: ProbeResult) -> dict[str, StepResult]:
    return {s.name: s for s in result.steps}


# --- the whole journey -------------------------------------------------------------------


def test_registered() -> None:
    assert "journey" in PROBES


async def test_success_with_every_extraction_kind() -> None:
    async with bank_api() as api:
        result = await run(bank_journey(api))
    assert result.success, result.message
    assert (result.reason, result.message, result.degraded) == ("ok", "", False)
    assert [s.name for s in result.steps] == ["login", "balance", "transfer", "cancel",
                                              "logout"]
    assert [s.final for s in result.steps] == [False] * 3 + [True] * 2
    assert all(s.success and s.reason == "ok" and s.status_code == 200 for s in result.steps)
    assert result.status_code == 200
    assert result.duration_seconds >= sum(s.duration_seconds for s in result.steps)
    assert result.phases["connect"] > 0
    assert result.phases["first_byte"] > 0
    # json (token, transfer_id), cookie (sid), header, regex by name and by number:
    assert api.cancellations == ["tr-3"]
    assert api.targets_seen[-1] == "/api/logout?rid=req-2&amount=10.00&currency=CNY"
    # The login cookie went along on every later request; the token was accepted.
    assert api.cookies_seen[0] is None
    assert all(c == "SESSIONID=sess-1-77b0c4" for c in api.cookies_seen[1:])
    assert not api.sessions  # logged out


async def test_through_the_runner_and_registry() -> None:
    async with bank_api() as api:
        result = await run_target(bank_journey(api), ProbeContext(), PROBES["journey"])
    assert result.success, result.message


async def test_json_values_become_strings() -> None:
    seen: list[dict[str, str]] = []

    async def doc(_: web.Request) -> web.Response:
        return web.json_response({"n": 12.5, "i": 3, "t": True, "z": None, "s": "text",
                                  "o": {"a": [1, "x"]}, "list": [10, 20]})

    async def echo(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/doc", doc)
    app.router.add_get("/echo", echo)
    names = ("n", "i", "t", "z", "s", "o")
    async with http_server(app) as base:
        spec = JourneySpec((
            JourneyStep("doc", HttpSpec(f"{base}/doc"), extract=(
                *(Extract(k, "json", f"$.{k}") for k in names),
                Extract("last", "json", "$.list[-1]"),
                Extract("quoted", "json", "$['o']['a'][1]"))),
            JourneyStep("echo", HttpSpec(f"{base}/echo?" + "&".join(
                f"{k}={{{{ {k} }}}}" for k in (*names, "last", "quoted")))),
        ))
        result = await run(target(spec))
    assert result.success, result.message
    assert seen == [{"n": "12.5", "i": "3", "t": "true", "z": "null", "s": "text",
                     "o": '{"a":[1,"x"]}', "last": "20", "quoted": "x"}]


@pytest.mark.parametrize(("step", "fault", "reason", "message"), [
    ("login", Fault("status", 503), "http_status", "status 503, expected 200"),
    ("login", Fault("bad_json"), "body_mismatch", "body is not valid JSON"),
    ("balance", Fault("refuse_token"), "http_status", "status 401, expected 2xx"),
    ("balance", Fault("bad_json"), "schema_mismatch", "body is not valid JSON"),
    ("transfer", Fault("bad_json"), "extract_failed",
     "extract transfer_id: body is not valid JSON"),
    ("transfer", Fault("close"), "protocol",
     "closed the connection before a complete response"),
])
async def test_each_fault_fails_its_step(step: str, fault: Fault, reason: str,
                                         message: str) -> None:
    async with bank_api(BankApi(faults={step: fault})) as api:
        result = await run(bank_journey(api))
    assert not result.success
    assert (result.reason, result.details) == (reason, {"step": step})
    assert result.message.startswith(f"step {step}: ")
    assert message in result.message
    names = [s.name for s in result.steps]
    failed_at = names.index(step)
    assert by_name(result)[step].reason == reason
    for skipped in result.steps[failed_at + 1:3]:
        assert (skipped.reason, skipped.skipped, skipped.duration_seconds) == ("skipped",
                                                                            True, 0.0)
    # finally still ran: logout always can (its variables may be missing: then skipped).
    assert [s.name for s in result.steps[3:]] == ["cancel", "logout"]
    assert all(s.final for s in result.steps[3:])


async def test_wrong_password_fails_login() -> None:
    async with bank_api(BankApi(password="another")) as api:
        result = await run(bank_journey(api))
    assert (result.reason, result.status_code) == ("http_status", 401)
    assert result.message == "step login: status 401, expected 200"


async def test_finally_after_a_failure_is_reported_but_does_not_decide() -> None:
    async with bank_api(BankApi(faults={"transfer": Fault("status", 500)})) as api:
        result = await run(bank_journey(api, report=False))
    assert (result.reason, result.status_code, result.details) == (
        "http_status", 500, {"step": "transfer"})
    cancel, logout = result.steps[3:]
    assert (cancel.skipped, cancel.reason, cancel.message) == (
        True, "skipped", "needs transfer_id, which no step extracted")
    assert (logout.success, logout.final, logout.status_code) == (True, True, 200)
    assert api.cancellations == []
    assert api.requests["/api/logout"] == 1


async def test_finally_failure_decides_when_the_steps_succeeded() -> None:
    async with bank_api(BankApi(faults={"cancel": Fault("status", 500)})) as api:
        result = await run(bank_journey(api))
    assert (result.success, result.reason, result.details) == (
        False, "http_status", {"step": "cancel"})
    assert result.message == "step cancel: status 500, expected 2xx"
    assert by_name(result)["logout"].success  # the next finally step still ran


async def test_finally_needing_an_unset_variable_after_success_fails() -> None:
    async with bank_api() as api:
        spec = JourneySpec(steps(api.url), (
            JourneyStep("audit", HttpSpec(f"{api.url}/api/logout?x={{{{ audit_id }}}}")),
        ), vars=VARS)
        result = await run(target(spec))
    audit = by_name(result)["audit"]
    assert (audit.success, audit.skipped, audit.reason) == (False, True, "extract_failed")
    assert (result.reason, result.details) == ("extract_failed", {"step": "audit"})
    assert result.message == "step audit: needs audit_id, which no step extracted"


@pytest.mark.parametrize(("rule", "message"), [
    (Extract("token", "json", "$.data.nothing"), "extract token: $.data.nothing not in "
     "the response"),
    (Extract("token", "header", "X-Token"), "extract token: header X-Token not in the "
     "response"),
    (Extract("token", "cookie", "JSESSIONID"), "extract token: cookie JSESSIONID not in "
     "the jar"),
    (Extract("token", "regex", r"nope(\d+)"), "extract token: regex 'nope(\\\\d+)' group 1 "
     "did not match"),
])
async def test_a_missing_value_fails_with_extract_failed(rule: Extract, message: str) -> None:
    async with bank_api() as api:
        result = await run(bank_journey(api, login_extract=(rule,)))
    assert (result.reason, result.details) == ("extract_failed", {"step": "login"})
    assert result.message == f"step login: {message}"


# --- one client per run: cookies and connections ------------------------------------------


async def test_cookies_carried_within_a_run_and_not_shared_between_runs() -> None:
    ctx = ProbeContext()
    async with bank_api() as api:
        first = await run(bank_journey(api, with_finally=False), ctx)
        second = await run(bank_journey(api, with_finally=False), ctx)
    assert first.success
    assert second.success
    assert api.cookies_seen == [None, "SESSIONID=sess-1-77b0c4", "SESSIONID=sess-1-77b0c4",
                                None, "SESSIONID=sess-4-77b0c4", "SESSIONID=sess-4-77b0c4"]
    assert api.connections == 2  # one per run, none carried over


async def test_connections_reused_within_a_run() -> None:
    async with bank_api() as api:
        result = await run(bank_journey(api))
    assert result.success
    assert api.connections == 1 < sum(api.requests.values()) == 5


@pytest.mark.parametrize("api", [BankApi(keep_alive=False), BankApi(drop_idle=True)],
                         ids=["connection-close", "drops-idle"])
async def test_a_server_closing_connections_still_works(api: BankApi) -> None:
    async with bank_api(api):
        result = await run(bank_journey(api))
    assert result.success, result.message
    assert api.connections == sum(api.requests.values()) == 5


async def test_a_reused_connection_closed_without_answer_is_retried_once() -> None:
    # The close hits the balance request on the reused connection: sent again, fresh.
    async with bank_api(BankApi(faults={"balance": Fault("close", times=1)})) as api:
        result = await run(bank_journey(api))
    assert result.success, result.message
    assert api.requests["/api/accounts/6222020000000001/balance"] == 2
    assert api.connections == 2


async def test_a_fresh_connection_closed_without_answer_is_not_retried() -> None:
    async with bank_api(BankApi(faults={"login": Fault("close", times=1)})) as api:
        result = await run(bank_journey(api, with_finally=False))
    assert (result.reason, result.details) == ("protocol", {"step": "login"})
    assert api.requests["/api/login"] == 1


async def test_over_tls_the_connection_is_reused(tmp_path: Path) -> None:
    transports: list[object] = []

    async def answer(request: web.Request) -> web.Response:
        transports.append(request.transport)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/{step}", answer)
    pki = Pki(tmp_path)
    tls = TlsClientConfig(ca_file=pki.ca_file)
    async with http_server(app, ssl_context=pki.server_context()) as base:
        spec = JourneySpec(tuple(JourneyStep(n, HttpSpec(f"{base}/{n}", tls=tls))
                                 for n in ("one", "two", "three")))
        result = await run(target(spec))
    assert result.success, result.message
    assert len(transports) == 3
    assert transports[0] is transports[1] is transports[2]
    assert result.cert_expiry_timestamp is not None
    assert result.cert_expiry_timestamp > time.time()
    assert result.phases["tls"] > 0


# --- the deadline ---------------------------------------------------------------------------
# Two cores are shared by parallel test runs: upper bounds on durations carry 0.5-0.75 s
# of slack, and a step's time left is read from its message, not assumed.


def time_had(message: str, step: str) -> float:
    """The seconds a timeout ``message`` says ``step`` had."""
    found = re.fullmatch(rf"step {step}: no answer within ([\d.]+)s \(response\)", message)
    assert found is not None, message
    return float(found.group(1))



async def test_a_hung_step_times_out_and_finally_still_runs_in_time() -> None:
    async with bank_api(BankApi(faults={"balance": Fault("slow", seconds=30)})) as api:
        start = time.perf_counter()
        result = await run(bank_journey(api, timeout=2.0, report=False))
        elapsed = time.perf_counter() - start
    assert (result.reason, result.details) == ("timeout", {"step": "balance"})
    had = time_had(result.message, "balance")
    assert 1.0 < had <= 1.5  # the main steps' 1.5 s, less what login took
    assert had - 0.05 < by_name(result)["balance"].duration_seconds < 1.5 + 0.75
    cancel, logout = result.steps[3:]
    assert cancel.skipped
    assert logout.success
    assert elapsed < 2.0 + 0.75


async def test_a_hung_finally_step_is_bounded_by_the_timeout() -> None:
    async with bank_api(BankApi(faults={"logout": Fault("slow", seconds=30)})) as api:
        start = time.perf_counter()
        result = await run(bank_journey(api, timeout=1.0))
        elapsed = time.perf_counter() - start
    assert (result.reason, result.details) == ("timeout", {"step": "logout"})
    assert 0.5 < time_had(result.message, "logout") <= 1.0  # 1 s less the steps before
    assert elapsed < 1.0 + 0.75


async def test_without_finally_steps_the_whole_timeout_is_the_steps() -> None:
    async with bank_api(BankApi(faults={"transfer": Fault("slow", seconds=30)})) as api:
        result = await run(bank_journey(api, timeout=0.8, with_finally=False))
    assert 0.3 < time_had(result.message, "transfer") <= 0.8
    assert 0.8 <= result.duration_seconds < 0.8 + 0.5


async def test_degraded_by_the_journey_or_a_step_threshold() -> None:
    async with bank_api(BankApi(faults={"balance": Fault("slow", seconds=0.05)})) as api:
        whole = JourneySpec(steps(api.url), vars=VARS, latency_seconds=0.01)
        slow_step = JourneySpec(steps(api.url, balance_expect=HttpExpect(
            latency_seconds=0.01)), vars=VARS)
        fine = JourneySpec(steps(api.url), vars=VARS, latency_seconds=5.0)
        results = [await run(target(s)) for s in (whole, slow_step, fine)]
    assert [(r.success, r.degraded) for r in results] == [(True, True), (True, True),
                                                          (True, False)]


# --- secrets ----------------------------------------------------------------------------------


async def test_secrets_never_in_messages_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_expect = HttpExpect(json={"currency": "USD", "balance": "99.00"})
    results = []
    async with bank_api() as api:
        results.append(await run(bank_journey(api)))
        results.append(await run(bank_journey(api, balance_expect=secret_expect)))
        results.append(await run(bank_journey(api, balance_expect=HttpExpect(
            body_regex="USD"))))
        results.append(await run(bank_journey(api, login_extract=(
            Extract("token", "json", "$.data.token.value"),))))
        api.faults["balance"] = Fault("refuse_token")
        results.append(await run(bank_journey(api)))
    assert results[1].message == "step balance: json field currency is not the expected value"
    secrets = [PASSWORD, ACCOUNT, "CNY", "10.00", "99.00", "77b0c4", "a9f3e1c7d2",
               *api.tokens_issued]
    shown = [r.message for r in results] + [s.message for r in results for s in r.steps]
    shown += [repr(r) for r in results] + [caplog.text]
    for text in shown:
        for secret in secrets:
            assert secret not in text, (secret, text)


# --- the pieces -------------------------------------------------------------------------------


def test_plans_are_built_once_per_spec() -> None:
    ctx = ProbeContext()
    spec = JourneySpec(steps("http://127.0.0.1:1"), vars=VARS)
    plan = ctx.journey_plans.get(spec)
    assert ctx.journey_plans.get(spec) is plan
    same_value = JourneySpec(steps("http://127.0.0.1:1"), vars=VARS)
    assert ctx.journey_plans.get(same_value) is not plan
    assert plan.steps[1].needs == ("account", "token")
    assert plan.steps[0].needs == ("user", "password")


async def test_a_connect_failure_is_classified() -> None:
    from tests.servers import closed_port

    spec = JourneySpec(steps(f"http://127.0.0.1:{closed_port()}"), vars=VARS)
    result = await run(target(spec))
    assert (result.reason, result.details) == ("connect_refused", {"step": "login"})
    assert [s.reason for s in result.steps] == ["connect_refused", "skipped", "skipped"]


async def test_a_slow_answer_is_not_blocking_the_server() -> None:
    # The bank API answers other connections while one request sleeps: the quick journey,
    # started after the slow one, ends first (2 s of slack on busy cores).
    ended: list[str] = []

    async def journey_named(name: str, t: Target) -> ProbeResult:
        result = await run(t)
        ended.append(name)
        return result

    async with bank_api(BankApi(faults={"logout": Fault("slow", seconds=2.0)})) as api:
        slow = asyncio.ensure_future(journey_named("slow", bank_journey(api, timeout=5.0)))
        await asyncio.sleep(0.05)
        quick = await journey_named("quick", bank_journey(api, with_finally=False))
        assert quick.success
        assert (await slow).success
    assert ended == ["quick", "slow"]


def test_journey_requests_keep_the_connection() -> None:
    from yarl import URL

    from probes import _http_request as req

    url = URL("http://bank.test/api")
    at = req.endpoint(url)
    closing = req.build_request("GET", url, at, (), None)
    kept = req.build_request("GET", url, at, (), None, keep_alive=True)
    assert closing.endswith(b"Connection: close\r\n\r\n")
    assert b"connection" not in kept.lower()
    assert kept.endswith(b"\r\n\r\n")
    assert closing.replace(b"Connection: close\r\n", b"") == kept


def test_json_field_values_hidden_when_asked() -> None:
    from probes import _http_expect as expect

    document = {"balance": "10.00"}
    shown = expect.check_json_fields(document, {"balance": "99.00"})
    hidden = expect.check_json_fields(document, {"balance": "99.00"}, show_values=False)
    assert shown == ("body_mismatch", 'json field balance is "10.00", expected "99.00"')
    assert hidden == ("body_mismatch", "json field balance is not the expected value")
    assert expect.check_json_fields(document, {"nope": 1}, show_values=False) == (
        "body_mismatch", "json field nope is missing")


async def test_a_reused_connection_costs_no_connect_phase() -> None:
    from yarl import URL

    from probes import _http_request as req
    from probes._http_client import Timeline
    from probes._journey_client import JourneyClient

    async with bank_api() as api:
        client = JourneyClient(asyncio.get_running_loop())
        url = URL(f"{api.url}/api/logout")
        at = req.endpoint(url)
        request = req.build_request("GET", url, at, (), None, keep_alive=True)
        timelines = []
        try:
            for _ in range(2):
                timeline = Timeline(time.perf_counter())
                exchange = await client.exchange(at, None, at.host, request, timeline,
                                                 head=False, max_body_bytes=1024)
                timeline.close("first_byte", "body")
                assert await exchange.read_body() is not None
                client.release(at, None, at.host, exchange, None)
                timelines.append(timeline)
        finally:
            client.close()
    first, second = (t.phases for t in timelines)
    assert first["connect"] > 0
    assert second["connect"] == second["dns"] == second["tls"] == 0.0
    assert second["first_byte"] > 0
    assert api.connections == 1
