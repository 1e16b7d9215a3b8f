"""The ``dns`` probe: ask one question, check the reply's rcode and answers.

With ``server`` set (an address or a host name), the question goes straight to
``server:port`` over ``transport`` with dnspython's async API.  UDP uses a connected socket,
so a closed port is reported as refused at once instead of as a timeout, and a reply with
the TC bit set is asked again over TCP, as a stub resolver would.  Without ``server``, the
system's resolver configuration answers through ``dns.asyncresolver`` (with its retries and
fall-back across name servers); ``query_name`` is always taken as absolute.

Reasons.  Getting no reply at all is a transport failure; a reply that is not the one
expected is a mismatch, even when its rcode is SERVFAIL:

- ``timeout``: no reply before the deadline (a silent server, a dropped packet).
- ``connect_refused``: the server refused (ICMP port unreachable for UDP, RST for TCP).
- ``connect_error``: another network error reaching the server.
- ``dns``: the server's host name does not resolve, or the system resolver has no usable
  configuration or got no reply from any of its name servers; or the reply is NXDOMAIN
  (the name does not exist) when ``expect_rcode`` is not NXDOMAIN.
- ``protocol``: the reply is not valid DNS, does not answer the question, or the server
  closed a TCP connection without replying; also an invalid question or answer pattern.
- ``body_mismatch``: the rcode is not ``expect_rcode`` (other than an unexpected
  NXDOMAIN), or an expected answer is missing; the message lists the answers received.

Matching answers: each entry of ``expect_answers`` must match at least one record of the
answer section.  A plain entry equals the record's text (``rdata.to_text()``, except TXT,
whose strings are joined without quotes), ignoring a trailing dot; an entry starting with
``~`` is a regular expression searched in each record's text (``~^10\\.1\\.``).

Phases: ``dns`` (resolving a server host name) and ``first_byte`` (question sent to reply
parsed; for the system resolver, the whole resolution).  Details: ``server``,
``transport``, ``rcode``, ``answer_count`` and ``answers`` (record texts, sorted and capped
in size; DNS answers carry no personal data).
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Sequence

import dns.asyncbackend
import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
from dns.rdtypes.txtbase import TXTBase

from monitor.config.model import DnsSpec, Target
from probes.context import ProbeContext
from probes.result import (
    REASON_BODY_MISMATCH,
    REASON_DNS,
    REASON_PROTOCOL,
    REASON_TIMEOUT,
    ProbeResult,
)
from probes.tcp import (
    PhaseClock,
    ProbeFailure,
    classify_error,
    failed,
    resolve,
    succeeded,
    timed_out,
)

_MAX_ANSWERS_DETAIL_CHARS = 512
_MAX_ANSWERS_MESSAGE_CHARS = 200


def answer_texts(response: dns.message.Message) -> list[str]:
    """The text of every record in the answer section, in order."""
    texts: list[str] = []
    for rrset in response.answer:
        for rdata in rrset:
            if isinstance(rdata, TXTBase):
                texts.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))
            else:
                texts.append(rdata.to_text())
    return texts


def answer_matches(expected: str, text: str) -> bool:
    """Whether one record text satisfies one ``expect_answers`` entry."""
    if expected.startswith("~"):
        return re.search(expected[1:], text) is not None
    return expected.rstrip(".") == text.rstrip(".")


def response_problem(response: dns.message.Message, expected_rcode: dns.rcode.Rcode,
                     expected_answers: Sequence[str]) -> str | None:
    """Why ``response`` fails the expectations, or None when it meets them."""
    rcode = response.rcode()
    if rcode != expected_rcode:
        return f"rcode {dns.rcode.to_text(rcode)}, expected {dns.rcode.to_text(expected_rcode)}"
    texts = answer_texts(response)
    missing = [e for e in expected_answers if not any(answer_matches(e, t) for t in texts)]
    if missing:
        got = ", ".join(sorted(texts))
        if len(got) > _MAX_ANSWERS_MESSAGE_CHARS:
            got = got[:_MAX_ANSWERS_MESSAGE_CHARS - 1] + "…"
        return (f"answer lacks {', '.join(map(repr, missing))} "
                f"(got {len(texts)} records{': ' + got if got else ''})")
    return None


def problem_reason(response: dns.message.Message, expected_rcode: dns.rcode.Rcode) -> str:
    """The reason of a reply that fails: ``dns`` for an unexpected NXDOMAIN (the name does
    not exist, a resolution failure as for every other probe), else ``body_mismatch``."""
    if response.rcode() == dns.rcode.NXDOMAIN and expected_rcode != dns.rcode.NXDOMAIN:
        return REASON_DNS
    return REASON_BODY_MISMATCH


def response_details(response: dns.message.Message) -> dict[str, str]:
    """The reply's rcode and answers (sorted: servers shuffle them) as result details."""
    texts = sorted(answer_texts(response))
    return {"rcode": dns.rcode.to_text(response.rcode()), "answer_count": str(len(texts)),
            "answers": ", ".join(texts)[:_MAX_ANSWERS_DETAIL_CHARS]}


async def query_server(question: dns.message.Message, address: str, port: int,
                       transport: str) -> tuple[dns.message.Message, str]:
    """Ask ``address:port`` directly; return the reply and the transport that got it.

    Waits as long as it takes: the caller's deadline bounds it.
    """
    try:
        if transport == "udp":
            backend = dns.asyncbackend.get_default_backend()
            af = dns.inet.af_for_address(address)
            sock = await backend.make_socket(  # type: ignore[no-untyped-call]
                af, socket.SOCK_DGRAM, 0, None, (address, port))
            async with sock:
                reply = await dns.asyncquery.udp(question, address, port=port, sock=sock)
            if not reply.flags & dns.flags.TC:
                return reply, "udp"
            transport = "udp+tcp"
        return await dns.asyncquery.tcp(question, address, port=port), transport
    except OSError as exc:
        raise ProbeFailure(*classify_error("connect", exc)) from exc
    except EOFError as exc:
        raise ProbeFailure(REASON_PROTOCOL, "the server closed the connection without a "
                                            "reply") from exc
    except dns.exception.DNSException as exc:
        raise ProbeFailure(REASON_PROTOCOL, f"bad reply: {exc}") from exc


async def query_system(resolver: dns.asyncresolver.Resolver, qname: dns.name.Name,
                       rdtype: dns.rdatatype.RdataType, lifetime: float, *,
                       tcp: bool = False) -> dns.message.Message:
    """Ask through ``resolver``; the reply even when its rcode is not NOERROR."""
    replies: list[dns.message.Message]
    failure: dns.exception.DNSException
    try:
        answer = await resolver.resolve(qname, rdtype, tcp=tcp, lifetime=lifetime,
                                        raise_on_no_answer=False)
        return answer.response
    except dns.resolver.NXDOMAIN as exc:
        replies, failure = list(exc.kwargs.get("responses", {}).values()), exc
    except dns.resolver.NoNameservers as exc:
        # Each error is (server, tcp, port, error, reply); a reply with a bad rcode is
        # still a reply, checked against expect_rcode like any other.
        errors = exc.kwargs.get("errors", [])
        replies, failure = [e[4] for e in errors if len(e) > 4 and e[4] is not None], exc
        last = errors[-1][3] if errors else None
        if not replies and isinstance(last, OSError):
            raise ProbeFailure(*classify_error("connect", last)) from exc
    except dns.resolver.LifetimeTimeout as exc:
        raise ProbeFailure(REASON_TIMEOUT, f"no reply within {lifetime:g}s") from exc
    except dns.exception.DNSException as exc:
        raise ProbeFailure(REASON_DNS, f"resolver: {exc}") from exc
    if replies:
        return replies[-1]
    raise ProbeFailure(REASON_DNS, f"no name server answered: {failure}") from failure


def _system_resolver() -> dns.asyncresolver.Resolver:
    try:  # reads /etc/resolv.conf on each probe, so edits apply without a restart
        return dns.asyncresolver.Resolver()
    except dns.exception.DNSException as exc:
        raise ProbeFailure(REASON_DNS, f"system resolver: {exc}") from exc


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Ask a ``dns`` target's question and check the reply; never raises for the server."""
    spec = target.spec
    if not isinstance(spec, DnsSpec):
        raise TypeError(f"dns probe given a {type(spec).__name__}")
    # Set up before the clock starts: dnspython imports its asyncio backend on first use,
    # and the system resolver reads /etc/resolv.conf; neither is the server's cost.
    dns.asyncbackend.get_default_backend()
    try:
        resolver = _system_resolver() if spec.server is None else None
    except ProbeFailure as exc:
        return failed(exc, PhaseClock())
    clock = PhaseClock()
    try:
        qname = dns.name.from_text(spec.query_name)
        rdtype = dns.rdatatype.RdataType.make(spec.record_type)
        expected_rcode = dns.rcode.from_text(spec.expect_rcode)
        for expected in spec.expect_answers:
            if expected.startswith("~"):
                re.compile(expected[1:])
    except (dns.exception.DNSException, ValueError, re.error) as exc:
        return failed(ProbeFailure(REASON_PROTOCOL, f"invalid question: {exc}"), clock)
    details = {"server": spec.server or "system", "transport": spec.transport}
    try:
        async with asyncio.timeout(target.timeout_seconds):
            if spec.server is None:
                assert resolver is not None
                clock.begin("first_byte")
                reply = await query_system(resolver, qname, rdtype,
                                           target.timeout_seconds, tcp=spec.transport == "tcp")
            else:
                address = await resolve(spec.server, spec.port, clock)
                clock.begin("first_byte")
                question = dns.message.make_query(qname, rdtype)
                reply, details["transport"] = await query_server(
                    question, address, spec.port, spec.transport)
            clock.end()
    except ProbeFailure as exc:
        return failed(exc, clock, details=details)
    except TimeoutError:
        return timed_out(target, clock, details=details)
    details.update(response_details(reply))
    problem = response_problem(reply, expected_rcode, spec.expect_answers)
    if problem is not None:
        return failed(ProbeFailure(problem_reason(reply, expected_rcode), problem), clock,
                      details=details)
    return succeeded(target, clock, details=details)
