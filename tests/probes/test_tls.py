"""The tls probe against real local TLS servers (trustme certificates), and its pure helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from monitor.config.model import Target, TcpSpec, TlsClientConfig, TlsSpec
from probes import tls
from probes._x509 import der_elements, leaf_certificate
from probes.context import ProbeContext
from probes.tcp import PhaseClock, connect
from probes.tls import expiry_problem, presented_certificate
from tests.servers import Pki, close_at_once, closed_port, hang, tcp_server

DAY = 86400.0
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def target(port: int, *, timeout: float = 2.0, tls_config: TlsClientConfig | None = None,
           **spec: Any) -> Target:
    spec.setdefault("host", "127.0.0.1")
    return Target(name="web-cert", channel="website", kind="tls",
                  spec=TlsSpec(port=port, tls_config=tls_config or TlsClientConfig(), **spec),
                  timeout_seconds=timeout)


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def trusted(pki: Pki) -> TlsClientConfig:
    return TlsClientConfig(ca_file=pki.ca_file)


async def test_valid_certificate(ctx: ProbeContext, pki: Pki, trusted: TlsClientConfig) -> None:
    not_after = NOW + dt.timedelta(days=90)
    async with tcp_server(hang, ssl_context=pki.server_context(not_after=not_after)) as served:
        result = await tls.probe(target(served.port, tls_config=trusted), ctx)
    assert result.success, result.message
    assert result.cert_expiry_timestamp == not_after.timestamp()
    assert set(result.phases) == {"connect", "tls"}
    assert result.details["subject_cn"] == "bank.test"
    assert result.details["issuer_cn"] == ""  # trustme's CA has no common name
    assert result.details["tls_version"].startswith("TLSv1.")
    assert result.details["cipher"]


async def test_server_name_overrides_host(ctx: ProbeContext, pki: Pki) -> None:
    config = TlsClientConfig(ca_file=pki.ca_file, server_name="www.bank.test")
    async with tcp_server(hang, ssl_context=pki.server_context("www.bank.test")) as served:
        result = await tls.probe(target(served.port, tls_config=config), ctx)
    assert result.success, result.message


async def test_host_name_is_resolved(ctx: ProbeContext, pki: Pki,
                                     trusted: TlsClientConfig) -> None:
    async with tcp_server(hang, ssl_context=pki.server_context("localhost")) as served:
        result = await tls.probe(target(served.port, host="localhost", tls_config=trusted), ctx)
    assert result.success, result.message
    assert set(result.phases) == {"dns", "connect", "tls"}


async def test_expired_certificate_reports_its_expiry(ctx: ProbeContext, pki: Pki,
                                                      trusted: TlsClientConfig) -> None:
    not_after = NOW - dt.timedelta(days=3)
    server = pki.server_context(not_before=not_after - dt.timedelta(days=30), not_after=not_after)
    async with tcp_server(hang, ssl_context=server) as served:
        result = await tls.probe(target(served.port, tls_config=trusted), ctx)
    assert (result.success, result.reason) == (False, "tls")
    assert result.message == f"TLS handshake with 127.0.0.1:{served.port}: certificate has expired"
    assert result.cert_expiry_timestamp == not_after.timestamp()
    assert result.details["subject_cn"] == "bank.test"


async def test_wrong_host_name(ctx: ProbeContext, pki: Pki, trusted: TlsClientConfig) -> None:
    async with tcp_server(hang, ssl_context=pki.server_context("other.test")) as served:
        by_ip = await tls.probe(target(served.port, tls_config=trusted), ctx)
        by_name = await tls.probe(target(served.port, host="localhost", tls_config=trusted), ctx)
    assert by_ip.reason == by_name.reason == "tls"
    assert "IP address mismatch" in by_ip.message
    assert "Hostname mismatch" in by_name.message
    assert by_name.cert_expiry_timestamp == pytest.approx(32503680000.0)  # trustme: year 3000


async def test_untrusted_chain(ctx: ProbeContext, pki: Pki) -> None:
    async with tcp_server(hang, ssl_context=pki.server_context()) as served:
        result = await tls.probe(target(served.port), ctx)  # the system CAs only
    assert result.reason == "tls"
    assert "unable to get local issuer certificate" in result.message
    assert result.cert_expiry_timestamp is not None


async def test_verification_failure_when_second_look_fails_too(ctx: ProbeContext, pki: Pki,
                                                               trusted: TlsClientConfig) -> None:
    server = pki.server_context("other.test")
    connections = 0

    async def first_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:  # later connections are closed before any handshake
            await writer.start_tls(server)
            await reader.read()

    async with tcp_server(first_only) as served:
        result = await tls.probe(target(served.port, tls_config=trusted), ctx)
    assert connections == 2
    assert result.reason == "tls"
    assert "mismatch" in result.message
    assert result.cert_expiry_timestamp is None


async def test_expiring_within_min_valid(ctx: ProbeContext, pki: Pki,
                                         trusted: TlsClientConfig) -> None:
    server = pki.server_context(not_after=NOW + dt.timedelta(days=10, hours=1))
    async with tcp_server(hang, ssl_context=server) as served:
        short = await tls.probe(target(served.port, tls_config=trusted,
                                       min_valid_seconds=30 * DAY), ctx)
        enough = await tls.probe(target(served.port, tls_config=trusted,
                                        min_valid_seconds=7 * DAY), ctx)
    assert short.reason == "tls"
    assert short.message == "certificate expires in 10.0 days, less than the required 30 days"
    assert short.cert_expiry_timestamp is not None
    assert short.details["subject_cn"] == "bank.test"
    assert enough.success


async def test_insecure_still_checks_expiry(ctx: ProbeContext, pki: Pki) -> None:
    insecure = TlsClientConfig(insecure_skip_verify=True)
    expired = pki.server_context(not_before=NOW - dt.timedelta(days=30),
                                 not_after=NOW - dt.timedelta(days=2))
    async with tcp_server(hang, ssl_context=expired) as served:
        result = await tls.probe(target(served.port, tls_config=insecure), ctx)
    assert result.reason == "tls"
    assert result.message == "certificate expired 2.0 days ago"
    async with tcp_server(hang, ssl_context=pki.server_context("other.test")) as served:
        untrusted = await tls.probe(target(served.port, tls_config=insecure), ctx)
    assert untrusted.success
    assert untrusted.details["subject_cn"] == "bank.test"


async def test_undecodable_certificate_is_protocol(ctx: ProbeContext, pki: Pki,
                                                   tmp_path: Path) -> None:
    # OpenSSL hands over an unverified certificate without checking its dates; one whose
    # notAfter is not a time (same length, so the DER stays well formed) cannot be read.
    leaf = pki.ca.issue_cert("127.0.0.1")
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    assert der.count(b"30000101000000Z") == 1  # trustme's default notAfter
    (tmp_path / "leaf.pem").write_text(
        ssl.DER_cert_to_PEM_cert(der.replace(b"30000101000000Z", b"3000010100000?Z")))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    insecure = TlsClientConfig(insecure_skip_verify=True)
    async with tcp_server(hang, ssl_context=server) as served:
        result = await tls.probe(target(served.port, tls_config=insecure), ctx)
    assert result.reason == "protocol"
    assert result.message == "the server's certificate could not be decoded"
    assert result.cert_expiry_timestamp is None


async def test_no_certificate_without_tls() -> None:
    async with tcp_server(hang) as served:
        conn = await connect("127.0.0.1", served.port, PhaseClock())
        try:
            assert presented_certificate(conn) is None
        finally:
            conn.abort()


async def test_handshake_that_hangs_times_out(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        start = time.perf_counter()
        result = await tls.probe(target(served.port, timeout=0.3), ctx)
        elapsed = time.perf_counter() - start
        assert await served.wait_idle()
    assert result.reason == "timeout"
    assert "(during tls)" in result.message
    assert 0.3 <= elapsed < 0.8


async def test_peer_closing_during_handshake_is_tls(ctx: ProbeContext) -> None:
    async with tcp_server(close_at_once) as served:
        result = await tls.probe(target(served.port), ctx)
    assert result.reason == "tls"
    assert result.message.startswith(f"TLS handshake with 127.0.0.1:{served.port}: ")
    assert result.cert_expiry_timestamp is None


async def test_refused_and_dns(ctx: ProbeContext) -> None:
    refused = await tls.probe(target(closed_port()), ctx)
    unknown = await tls.probe(target(443, host="www.bank.invalid"), ctx)
    assert refused.reason == "connect_refused"
    assert unknown.reason == "dns"


async def test_latency_over_threshold_is_degraded(ctx: ProbeContext, pki: Pki,
                                                  trusted: TlsClientConfig) -> None:
    async with tcp_server(hang, ssl_context=pki.server_context()) as served:
        result = await tls.probe(target(served.port, tls_config=trusted, latency_seconds=1e-9),
                                 ctx)
    assert result.success
    assert result.degraded


async def test_wrong_spec_is_a_bug(ctx: ProbeContext) -> None:
    wrong = Target(name="x", channel="c", kind="tls", spec=TcpSpec(host="a", port=1))
    with pytest.raises(TypeError):
        await tls.probe(wrong, ctx)


# --- pure helpers ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("left_days", "min_valid_days", "problem"),
    [
        (-1.5, 0, "certificate expired 1.5 days ago"),
        (0, 0, "certificate expired 0.0 days ago"),
        (0.5, 0, None),
        (29.95, 30, "certificate expires in 29.9 days, less than the required 30 days"),
        (30, 30, None),
    ],
)
def test_expiry_problem(left_days: float, min_valid_days: float, problem: str | None) -> None:
    now = 1_700_000_000.0
    assert expiry_problem(now + left_days * DAY, now, min_valid_days * DAY) == problem


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA])
@pytest.mark.parametrize(
    "not_after",
    [
        dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC),  # UTCTime
        dt.datetime(2077, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # GeneralizedTime
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),  # UTCTime, 19xx
    ],
)
def test_leaf_certificate_agrees_with_cryptography(key_type: trustme.KeyType,
                                                   not_after: dt.datetime) -> None:
    ca = trustme.CA(key_type=key_type)
    leaf = ca.issue_cert("bank.test", common_name="bänk.test", key_type=key_type,
                         not_before=dt.datetime(1990, 1, 1, tzinfo=dt.UTC), not_after=not_after)
    der = leaf.cert_chain_pems[0].bytes()
    parsed = x509.load_pem_x509_certificate(der)
    facts = leaf_certificate(parsed.public_bytes(Encoding.DER))
    assert facts.not_after_timestamp == parsed.not_valid_after_utc.timestamp()
    assert facts.subject_cn == "bänk.test"
    assert facts.issuer_cn == ""


def _tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 256
    length = bytes([len(content)]) if len(content) < 128 else bytes([0x81, len(content)])
    return bytes([tag]) + length + content


def _name(tag: int, text: bytes) -> bytes:
    cn = _tlv(0x30, _tlv(0x06, b"\x55\x04\x03") + _tlv(tag, text))
    org = _tlv(0x30, _tlv(0x06, b"\x55\x04\x0a") + _tlv(0x0C, b"Bank"))
    return _tlv(0x30, _tlv(0x31, org) + _tlv(0x31, cn))


def _certificate(validity: bytes, *, version: bool = True) -> bytes:
    tbs = (_tlv(0xA0, _tlv(0x02, b"\x02")) if version else b"") + _tlv(0x02, b"\x01") \
        + _tlv(0x30, b"") + _name(0x1E, "Bank Root CA".encode("utf-16-be")) + validity \
        + _name(0x13, b"core.bank.test")
    return _tlv(0x30, _tlv(0x30, tbs) + _tlv(0x30, b"") + _tlv(0x03, b"\x00"))


def test_leaf_certificate_hand_built() -> None:
    validity = _tlv(0x30, _tlv(0x17, b"250101000000Z") + _tlv(0x18, b"20500101000000Z"))
    for der in (_certificate(validity), _certificate(validity, version=False)):
        facts = leaf_certificate(der)
        assert facts.not_after_timestamp == dt.datetime(2050, 1, 1, tzinfo=dt.UTC).timestamp()
        assert (facts.subject_cn, facts.issuer_cn) == ("core.bank.test", "Bank Root CA")
        assert facts.details() == {"subject_cn": "core.bank.test", "issuer_cn": "Bank Root CA"}


def test_leaf_certificate_checks_the_structure_tags() -> None:
    validity = _tlv(0x30, _tlv(0x17, b"250101000000Z") + _tlv(0x18, b"20500101000000Z"))
    der = _certificate(validity)
    with pytest.raises(ValueError, match=r"^not an X\.509 certificate$"):
        leaf_certificate(b"\x31" + der[1:])  # a SET where the Certificate SEQUENCE belongs


def test_leaf_certificate_rejects_a_time_that_is_not_one() -> None:
    validity = _tlv(0x30, _tlv(0x17, b"250101000000Z") + _tlv(0x02, b"\x01"))
    with pytest.raises(ValueError, match="bad certificate time"):
        leaf_certificate(_certificate(validity))


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",  # header cut short
        b"\x30\x05\x01",  # content cut short
        b"\x30\x80",  # indefinite length is not DER
        b"\x30\x85\x01\x02\x03\x04\x05",  # a five-byte length
        b"\x30\x00\x30\x00",  # two elements
        b"\x30\x03\x02\x01\x00",  # a SEQUENCE holding no tbsCertificate
        b"\x31\x02\x30\x00",  # a SET, not a SEQUENCE
    ],
)
def test_leaf_certificate_rejects_malformed(der: bytes) -> None:
    with pytest.raises(ValueError, match=r"^not an X\.509 certificate"):
        leaf_certificate(der)


def test_der_elements_long_form_length() -> None:
    content = b"a" * 200
    assert der_elements(b"\x04\x81\xc8" + content + b"\x05\x00") == [(0x04, content), (5, b"")]

