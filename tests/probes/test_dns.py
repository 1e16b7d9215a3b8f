"""The dns probe against a real local name server (tests.servers), and its pure helpers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import dns.asyncresolver
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from monitor.config.model import DnsSpec, Target, TcpSpec
from probes import dns as dns_probe
from probes.context import ProbeContext
from probes.dns import (
    answer_matches,
    answer_texts,
    query_system,
    response_details,
    response_problem,
)
from probes.tcp import ProbeFailure
from tests.servers import DnsZone, closed_port, dns_server

ZONE_RECORDS = {
    ("ok.bank.test.", "A"): ["127.0.0.1", "127.0.0.2"],
    ("ok.bank.test.", "TXT"): ['"hello world"', '"v=spf1 -all"'],
    ("www.bank.test.", "CNAME"): ["ok.bank.test."],
}
BEHAVIOUR = {name + ".bank.test.": name for name in (
    "servfail", "yxdomain", "silent", "garbage", "wrong_id", "truncate", "hangup",
    "truncate_hangup")}


@pytest.fixture
def zone() -> DnsZone:
    return DnsZone(records=dict(ZONE_RECORDS), behaviour=dict(BEHAVIOUR))


@pytest.fixture
async def port(zone: DnsZone) -> AsyncIterator[int]:
    async with dns_server(zone) as bound:
        yield bound


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


def target(port: int, name: str, *, timeout: float = 2.0, **spec: Any) -> Target:
    spec.setdefault("server", "127.0.0.1")
    return Target(name="dns", channel="app", kind="dns",
                  spec=DnsSpec(query_name=name, port=port, **spec), timeout_seconds=timeout)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_record_answers(ctx: ProbeContext, port: int, zone: DnsZone,
                                transport: str) -> None:
    result = await dns_probe.probe(target(port, "ok.bank.test", transport=transport,
                                          expect_answers=("127.0.0.2",)), ctx)
    assert result.success, result.message
    assert result.details == {"server": "127.0.0.1", "transport": transport, "rcode": "NOERROR",
                              "answer_count": "2", "answers": "127.0.0.1, 127.0.0.2"}
    assert set(result.phases) == {"first_byte"}
    assert zone.queries == [("ok.bank.test.", transport)]


async def test_txt_and_regex_answers(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "ok.bank.test.", record_type="TXT",
                                          expect_answers=("hello world", "~^v=spf1 ")), ctx)
    assert result.success, result.message


async def test_cname_ignores_trailing_dot(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "www.bank.test", record_type="CNAME",
                                          expect_answers=("ok.bank.test",)), ctx)
    assert result.success, result.message


async def test_missing_answer_is_body_mismatch(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "ok.bank.test",
                                          expect_answers=("127.0.0.1", "10.9.9.9")), ctx)
    assert (result.success, result.reason) == (False, "body_mismatch")
    # The answers received are shown (issue 8), sorted as in the details.
    assert result.message == "answer lacks '10.9.9.9' (got 2 records: 127.0.0.1, 127.0.0.2)"
    assert result.details["answer_count"] == "2"


async def test_no_data_is_noerror_without_answers(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "www.bank.test", record_type="AAAA"), ctx)
    assert result.success
    assert result.details["answer_count"] == "0"


async def test_nxdomain(ctx: ProbeContext, port: int) -> None:
    unexpected = await dns_probe.probe(target(port, "nope.bank.test"), ctx)
    expected = await dns_probe.probe(target(port, "nope.bank.test", expect_rcode="NXDOMAIN"), ctx)
    # Issue 8: a name that does not exist is a resolution failure, reason ``dns`` (it was
    # ``body_mismatch``), like an unresolvable host for every other probe.
    assert unexpected.reason == "dns"
    assert unexpected.message == "rcode NXDOMAIN, expected NOERROR"
    assert unexpected.details["rcode"] == "NXDOMAIN"
    assert expected.success


async def test_servfail_is_a_mismatch_not_a_transport_failure(ctx: ProbeContext,
                                                              port: int) -> None:
    result = await dns_probe.probe(target(port, "servfail.bank.test"), ctx)
    assert result.reason == "body_mismatch"
    assert result.details["rcode"] == "SERVFAIL"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_silent_server_times_out(ctx: ProbeContext, port: int, transport: str) -> None:
    start = time.perf_counter()
    result = await dns_probe.probe(target(port, "silent.bank.test", timeout=0.3,
                                          transport=transport), ctx)
    elapsed = time.perf_counter() - start
    assert result.reason == "timeout"
    assert "(during first_byte)" in result.message
    assert 0.3 <= elapsed < 0.8


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_closed_port_is_refused_at_once(ctx: ProbeContext, transport: str) -> None:
    start = time.perf_counter()
    result = await dns_probe.probe(target(closed_port(), "ok.bank.test", timeout=2.0,
                                          transport=transport), ctx)
    assert result.reason == "connect_refused"
    assert time.perf_counter() - start < 1.0  # a connected UDP socket hears the ICMP


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("garbage.bank.test", "bad reply: "),
        ("wrong_id.bank.test", "bad reply: "),
    ],
)
async def test_bad_reply_is_protocol(ctx: ProbeContext, port: int, name: str,
                                     message: str) -> None:
    result = await dns_probe.probe(target(port, name), ctx)
    assert result.reason == "protocol"
    assert result.message.startswith(message)


async def test_tcp_hangup_is_protocol(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "hangup.bank.test", transport="tcp"), ctx)
    assert result.reason == "protocol"
    assert result.message == "the server closed the connection without a reply"


async def test_truncated_udp_reply_is_asked_again_over_tcp(ctx: ProbeContext, port: int,
                                                           zone: DnsZone) -> None:
    zone.records[("truncate.bank.test.", "A")] = ["127.0.0.9"]
    result = await dns_probe.probe(target(port, "truncate.bank.test",
                                          expect_answers=("127.0.0.9",)), ctx)
    assert result.success, result.message
    assert result.details["transport"] == "udp+tcp"
    assert zone.queries == [("truncate.bank.test.", "udp"), ("truncate.bank.test.", "tcp")]


async def test_server_by_host_name(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "ok.bank.test", server="localhost"), ctx)
    assert result.success
    assert set(result.phases) == {"dns", "first_byte"}


async def test_server_host_name_unknown_is_dns(ctx: ProbeContext) -> None:
    result = await dns_probe.probe(target(53, "ok.bank.test", server="ns1.bank.invalid"), ctx)
    assert result.reason == "dns"


@pytest.mark.parametrize(
    "spec",
    [
        {"record_type": "BOGUS"},
        {"expect_rcode": "MAYBE"},
        {"expect_answers": ("~(unclosed",)},
    ],
)
async def test_invalid_question_is_protocol(ctx: ProbeContext, spec: dict[str, Any]) -> None:
    result = await dns_probe.probe(target(closed_port(), "ok.bank.test", **spec), ctx)
    assert result.reason == "protocol"
    assert result.message.startswith("invalid question: ")


async def test_latency_over_threshold_is_degraded(ctx: ProbeContext, port: int) -> None:
    result = await dns_probe.probe(target(port, "ok.bank.test", latency_seconds=1e-9), ctx)
    assert result.success
    assert result.degraded


async def test_wrong_spec_is_a_bug(ctx: ProbeContext) -> None:
    wrong = Target(name="x", channel="c", kind="dns", spec=TcpSpec(host="a", port=1))
    with pytest.raises(TypeError):
        await dns_probe.probe(wrong, ctx)


# --- the system-resolver path, pointed at the local server -------------------------------
# probe() builds its resolver from /etc/resolv.conf, whose servers tests must not reach;
# query_system is the same code given a resolver for the local server instead.

def _resolver(port: int) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    return resolver


async def _ask(port: int, name: str, lifetime: float = 2.0, *,
               tcp: bool = False) -> dns.message.Message:
    return await query_system(_resolver(port), dns.name.from_text(name), dns.rdatatype.A,
                              lifetime, tcp=tcp)


@pytest.mark.parametrize("tcp", [False, True])
async def test_system_path_answers(port: int, zone: DnsZone, tcp: bool) -> None:
    reply = await _ask(port, "ok.bank.test", tcp=tcp)
    assert sorted(answer_texts(reply)) == ["127.0.0.1", "127.0.0.2"]
    assert zone.queries == [("ok.bank.test.", "tcp" if tcp else "udp")]


@pytest.mark.parametrize(
    ("name", "rcode"),
    [("nope.bank.test", dns.rcode.NXDOMAIN), ("servfail.bank.test", dns.rcode.SERVFAIL)],
)
async def test_system_path_keeps_failed_rcodes(port: int, name: str,
                                               rcode: dns.rcode.Rcode) -> None:
    assert (await _ask(port, name)).rcode() == rcode


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("silent.bank.test", "timeout"),
        ("garbage.bank.test", "timeout"),  # the resolver ignores what it cannot parse
        ("truncate_hangup.bank.test", "dns"),
        ("yxdomain.bank.test", "dns"),
    ],
)
async def test_system_path_failures(port: int, name: str, reason: str) -> None:
    with pytest.raises(ProbeFailure) as info:
        await _ask(port, name, lifetime=0.3)
    assert info.value.reason == reason


async def test_system_path_network_error() -> None:
    with pytest.raises(ProbeFailure) as info:
        await _ask(0, "ok.bank.test")  # sending to port 0 fails at once: EINVAL
    assert info.value.reason == "connect_error"


# --- pure helpers ------------------------------------------------------------------------

def _reply(rdtype: str, *texts: str, rcode: dns.rcode.Rcode = dns.rcode.NOERROR
           ) -> dns.message.Message:
    reply = dns.message.make_response(dns.message.make_query("a.test.", rdtype))
    reply.set_rcode(rcode)
    if texts:
        reply.answer.append(dns.rrset.from_text_list("a.test.", 60, "IN", rdtype, list(texts)))
    return reply


def test_answer_texts_unquotes_txt() -> None:
    assert answer_texts(_reply("TXT", '"a" "b"', '"\\195\\169t\\195\\169"')) == ["ab", "été"]
    assert answer_texts(_reply("MX", "10 mx.a.test.")) == ["10 mx.a.test."]


@pytest.mark.parametrize(
    ("expected", "text", "matches"),
    [
        ("10.0.0.1", "10.0.0.1", True),
        ("10.0.0.1", "10.0.0.10", False),
        ("a.test", "a.test.", True),
        ("a.test.", "a.test", True),
        ("~^10\\.0\\.", "10.0.0.10", True),
        ("~^10\\.0\\.", "110.0.0.1", False),
    ],
)
def test_answer_matches(expected: str, text: str, matches: bool) -> None:
    assert answer_matches(expected, text) is matches


def test_response_problem() -> None:
    ok = _reply("A", "10.0.0.1")
    assert response_problem(ok, dns.rcode.NOERROR, ("10.0.0.1",)) is None
    assert response_problem(ok, dns.rcode.NXDOMAIN, ()) == "rcode NOERROR, expected NXDOMAIN"
    assert response_problem(ok, dns.rcode.NOERROR, ("10.0.0.2", "~x")) \
        == "answer lacks '10.0.0.2', '~x' (got 1 records: 10.0.0.1)"
    empty = _reply("A")
    assert response_problem(empty, dns.rcode.NOERROR, ("10.0.0.2",)) \
        == "answer lacks '10.0.0.2' (got 0 records)"
    many = _reply("A", *(f"10.0.{i // 256}.{i % 256}" for i in range(100)))
    capped = response_problem(many, dns.rcode.NOERROR, ("10.9.9.9",))
    assert capped is not None
    assert capped.endswith("…)")
    assert len(capped) < 260


def test_response_details_caps_answers() -> None:
    many = _reply("A", *(f"10.0.{i // 256}.{i % 256}" for i in range(100)))
    details = response_details(many)
    assert details["answer_count"] == "100"
    assert len(details["answers"]) == 512
