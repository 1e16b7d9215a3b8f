"""The journey probe against hostile or surprising servers (review findings, one each).

Each test is a regression test for a defect a review found: a connection opened without
verification carrying a verifying step, a response that made the run raise before its
``finally`` steps, a schema message naming a response key, a timeout message naming
the wrong budget.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

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
from probes import _http_expect as expect
from probes import _journey_step, journey
from probes.context import ProbeContext
from probes.result import PHASES, REASONS, ProbeResult, StepResult
from tests.bankapi import ACCOUNT, BankApi, Fault, bank_api
from tests.servers import Pki, http_server

BAD_EXPIRES = "sid=abc; Path=/; Expires=Wed, 01 Jan 99999 00:00:00 GMT"


def target(spec: JourneySpec, *, timeout: float = 5.0) -> Target:
    return Target(name="hostile", channel="app", kind="journey", spec=spec,
                  timeout_seconds=timeout)


async def run(t: Target) -> ProbeResult:
    result = await journey.probe(t, ProbeContext())
    assert result.reason in REASONS
    assert set(result.phases) == set(PHASES)
    return result


def by_name(result: ProbeResult) -> dict[str, StepResult]:
    return {s.name: s for s in result.steps}


class Recorder:
    """An aiohttp app answering every path with a small JSON document, remembering what
    it saw; ``headers[path]`` adds response headers to that path's answers."""

    def __init__(self, headers: dict[str, dict[str, str]] | None = None,
                 body: bytes = b'{"id": "T1"}') -> None:
        self.paths: list[str] = []
        self.cookies: list[str | None] = []
        self.transports: list[object] = []
        self.headers = headers or {}
        self.body = body
        self.app = web.Application()
        self.app.router.add_route("*", "/{path}", self.answer)

    async def answer(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        self.cookies.append(request.headers.get("Cookie"))
        self.transports.append(request.transport)
        response = web.Response(body=self.body, content_type="application/json")
        for name, value in self.headers.get(request.path, {}).items():
            response.headers[name] = value
        return response


# --- 1. a connection is reused only with the same TLS configuration ----------------------


async def test_an_unverified_connection_does_not_carry_a_verifying_step(
        tmp_path: Path) -> None:
    pki = Pki(tmp_path)  # a CA that neither the system store nor the probe trusts
    server = Recorder()
    async with http_server(server.app, ssl_context=pki.server_context()) as base:
        insecure = TlsClientConfig(insecure_skip_verify=True)
        spec = JourneySpec((
            JourneyStep("insecure", HttpSpec(f"{base}/a", tls=insecure)),
            JourneyStep("strict", HttpSpec(f"{base}/b")),  # verifies (system CAs)
        ))
        result = await run(target(spec))
    assert (result.reason, result.details) == ("tls", {"step": "strict"})
    assert "certificate" in result.message
    assert server.paths == ["/a"]  # the verifying request never reached the server


async def test_another_trust_store_opens_its_own_connection(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = Recorder()
    async with http_server(server.app, ssl_context=pki.server_context()) as base:
        trusting = TlsClientConfig(ca_file=pki.ca_file)
        unverified = TlsClientConfig(insecure_skip_verify=True)
        spec = JourneySpec((
            JourneyStep("one", HttpSpec(f"{base}/one", tls=trusting)),
            JourneyStep("two", HttpSpec(f"{base}/two", tls=trusting)),
            JourneyStep("three", HttpSpec(f"{base}/three", tls=unverified)),
            JourneyStep("four", HttpSpec(f"{base}/four", tls=unverified)),
        ))
        result = await run(target(spec))
    assert result.success, result.message
    one, two, three, four = server.transports
    assert one is two  # same config: reused
    assert three is four
    assert three is not two  # another config: a connection of its own


# --- 2. a hostile response fails at most its step; finally still runs ---------------------


async def test_an_unreadable_cookie_date_is_no_expiry_and_finally_runs() -> None:
    server = Recorder({"/transfer": {"Set-Cookie": BAD_EXPIRES}})
    async with http_server(server.app) as base:
        spec = JourneySpec(
            (JourneyStep("transfer", HttpSpec(f"{base}/transfer", method="POST"),
                         extract=(Extract("sid", "cookie", "sid"),)),),
            (JourneyStep("cancel", HttpSpec(f"{base}/cancel?sid={{{{ sid }}}}",
                                            method="DELETE")),),
        )
        result = await run(target(spec))
    assert result.success, result.message
    assert server.paths == ["/transfer", "/cancel"]
    assert server.cookies == [None, "sid=abc"]


@pytest.mark.parametrize("charset", ["base64", "zlib", "rot13", "idna", "punycode"])
async def test_a_non_text_charset_is_read_as_utf8(charset: str) -> None:
    server = Recorder({"/page": {"Content-Type": f"text/plain; charset={charset}"}},
                      body="ref=AB12 café".encode())
    async with http_server(server.app) as base:
        spec = JourneySpec((
            JourneyStep("page", HttpSpec(f"{base}/page",
                                         expect=HttpExpect(body_regex="café")),
                        extract=(Extract("ref", "regex", r"ref=(\w+)"),)),
            JourneyStep("use", HttpSpec(f"{base}/use?ref={{{{ ref }}}}")),
        ))
        result = await run(target(spec))
    assert result.success, result.message
    assert server.paths == ["/page", "/use"]


async def test_a_step_that_raises_fails_alone_and_finally_runs(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: object) -> str:
        raise ValueError(f"account {ACCOUNT}")  # a value in the text: never shown

    monkeypatch.setattr(_journey_step, "_extract", broken)
    caplog.set_level(logging.DEBUG)
    server = Recorder()
    async with http_server(server.app) as base:
        spec = JourneySpec(
            (JourneyStep("transfer", HttpSpec(f"{base}/transfer", method="POST"),
                         extract=(Extract("transfer_id", "json", "$.id"),)),
             JourneyStep("confirm", HttpSpec(f"{base}/confirm"))),
            (JourneyStep("logout", HttpSpec(f"{base}/logout")),),
        )
        result = await run(target(spec))
    assert (result.reason, result.message, result.details) == (
        "protocol", "step transfer: internal error: ValueError", {"step": "transfer"})
    assert [(s.name, s.reason) for s in result.steps] == [
        ("transfer", "protocol"), ("confirm", "skipped"), ("logout", "ok")]
    assert server.paths == ["/transfer", "/logout"]
    (record,) = [r for r in caplog.records if r.getMessage() == "journey_step_bug"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "in broken" in caplog.text  # where it broke is logged
    assert ACCOUNT not in caplog.text
    assert ACCOUNT not in repr(result)


# --- 3. a schema failure names the schema's location, not the response's keys -------------


async def test_a_schema_failure_names_no_response_key() -> None:
    schema = {"type": "object",
              "properties": {"accounts": {"type": "object",
                                          "additionalProperties": {"type": "string"}}}}
    body = b'{"accounts": {"6222020000000001": 12.5}}'
    server = Recorder(body=body)
    async with http_server(server.app) as base:
        spec = JourneySpec((JourneyStep("list", HttpSpec(
            f"{base}/accounts", expect=HttpExpect(json_schema=schema))),))
        result = await run(target(spec))
    assert (result.reason, result.message) == (
        "schema_mismatch", "step list: body fails schema keyword type at "
        "#/properties/accounts/additionalProperties/type")


def test_check_schema_shows_the_document_path_only_when_asked() -> None:
    schema = {"type": "object", "properties": {
        "a/b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "items": {"type": "array", "items": {"required": ["id"]}}}}
    document = {"items": [{"id": 1}, {"ACCT-42": True}]}
    assert expect.check_schema(document, schema) == (
        "schema_mismatch", "body fails schema at $.items[1]: required")
    assert expect.check_schema(document, schema, show_values=False) == (
        "schema_mismatch", "body fails schema keyword required at "
        "#/properties/items/items/required")
    # The location is from the schema's root, "/" and "~" escaped as JSON Pointer.
    assert expect.check_schema({"a/b": 1}, schema, show_values=False) == (
        "schema_mismatch", "body fails schema keyword anyOf at #/properties/a~1b/anyOf")
    assert expect.schema_pointer(["properties", "x~y", "items", 0]) == (
        "#/properties/x~0y/items/0")


# --- 4. the timeout message names the time the step had ----------------------------------


async def test_the_timeout_message_names_what_the_step_had() -> None:
    async with bank_api(BankApi(faults={"login": Fault("slow", seconds=0.5),
                                        "logout": Fault("slow", seconds=30)})) as api:
        spec = JourneySpec((
            JourneyStep("login", HttpSpec(f"{api.url}/api/login", method="POST",
                                          expect=HttpExpect(status=(400, 401)))),
            JourneyStep("logout", HttpSpec(f"{api.url}/api/logout")),
        ))
        result = await run(target(spec, timeout=2.0))
    assert (result.reason, result.details) == ("timeout", {"step": "logout"})
    found = re.fullmatch(r"step logout: no answer within ([\d.]+)s \(response\)",
                         result.message)
    assert found is not None, result.message
    had = float(found.group(1))
    assert had < 2.0 - 0.4  # not the whole budget: login took its 0.5 s first
    assert had > 0.5  # and not nothing (login should not take 1.5 s even on 2 busy cores)
    logout = by_name(result)["logout"]
    assert logout.duration_seconds >= had - 0.05


def test_seconds_are_rounded_for_messages() -> None:
    shown = journey._seconds  # a private formatter, tested directly
    assert [shown(s) for s in (1.4999, 1.5, 12.34, 1.0, 0.754, 0.8, 0.001, -0.2)] == [
        "1.5", "1.5", "12.3", "1", "0.75", "0.8", "0", "0"]
