"""The tcp probe against real local servers, and its pure helpers."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.config.model import DnsSpec, Target, TcpSpec, TlsClientConfig
from probes import tcp
from probes.context import ProbeContext
from probes.tcp import PhaseClock, ProbeFailure, classify_error, encode_payload, read_until
from tests.servers import (
    Pki,
    banner,
    close_at_once,
    closed_port,
    echo,
    endless,
    hang,
    reset,
    tcp_server,
)

TIMEOUT_SLACK_SECONDS = 0.5


def target(port: int, *, timeout: float = 2.0, **spec: Any) -> Target:
    spec.setdefault("host", "127.0.0.1")
    return Target(name="gw", channel="branch", kind="tcp", spec=TcpSpec(port=port, **spec),
                  timeout_seconds=timeout)


@pytest.fixture
def ctx() -> ProbeContext:
    return ProbeContext()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


async def test_connect_only_succeeds(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        result = await tcp.probe(target(served.port), ctx)
    assert result.success
    assert result.reason == "ok"
    assert not result.degraded
    assert set(result.phases) == {"connect"}  # an IP literal is not resolved
    assert result.details["address"] == "127.0.0.1"
    assert result.cert_expiry_timestamp is None
    assert result.started_at == pytest.approx(time.time(), abs=5)


async def test_host_name_is_resolved_and_timed(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        result = await tcp.probe(target(served.port, host="localhost"), ctx)
    assert result.success
    assert {"dns", "connect"} <= set(result.phases)
    assert result.details["address"] == "127.0.0.1"


async def test_send_then_expect_over_echo(ctx: ProbeContext) -> None:
    async with tcp_server(echo) as served:
        result = await tcp.probe(target(served.port, send="PING\r\n", expect_regex=r"PING\r\n"),
                                 ctx)
    assert result.success, result.message
    assert {"connect", "first_byte", "transfer"} <= set(result.phases)
    assert result.details["bytes_read"] == "6"


async def test_binary_frame_is_one_byte_per_character(ctx: ProbeContext) -> None:
    # An ISO 8583-style frame: a two-byte length prefix, then the message type.
    async with tcp_server(echo) as served:
        result = await tcp.probe(
            target(served.port, send="\x00\x04\xff0800", expect_regex=r"\x00\x04\xff0800"), ctx)
    assert result.success, result.message


async def test_banner_is_read_without_sending(ctx: ProbeContext) -> None:
    async with tcp_server(banner(b"220 core-gw ready\r\n")) as served:
        result = await tcp.probe(target(served.port, expect_regex=r"^220 "), ctx)
    assert result.success


async def test_send_without_expect_succeeds_once_sent(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        result = await tcp.probe(target(served.port, send="QUIT\r\n"), ctx)
    assert result.success


async def test_close_before_match_is_body_mismatch(ctx: ProbeContext) -> None:
    async with tcp_server(banner(b"hello", then_close=True)) as served:
        result = await tcp.probe(target(served.port, expect_regex="^220"), ctx)
    assert (result.success, result.reason) == (False, "body_mismatch")
    assert "closed after 5 bytes" in result.message


async def test_immediate_close_is_body_mismatch(ctx: ProbeContext) -> None:
    async with tcp_server(close_at_once) as served:
        result = await tcp.probe(target(served.port, expect_regex="^220"), ctx)
    assert result.reason == "body_mismatch"
    assert "closed after 0 bytes" in result.message


async def test_endless_stream_without_match_is_too_large(ctx: ProbeContext) -> None:
    async with tcp_server(endless) as served:
        result = await tcp.probe(target(served.port, expect_regex="y", max_read_bytes=10000), ctx)
        assert await served.wait_idle()
    assert result.reason == "too_large"
    assert "first 10000 bytes" in result.message


async def test_match_inside_endless_stream_succeeds(ctx: ProbeContext) -> None:
    async with tcp_server(endless) as served:
        result = await tcp.probe(target(served.port, expect_regex="x{100}"), ctx)
    assert result.success


async def test_hanging_peer_times_out_on_time_and_is_released(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        start = time.perf_counter()
        result = await tcp.probe(target(served.port, timeout=0.3, expect_regex="."), ctx)
        elapsed = time.perf_counter() - start
        assert await served.wait_idle()  # the probe let go of its socket
    assert result.reason == "timeout"
    assert "within 0.3s (during first_byte)" in result.message
    assert 0.3 <= elapsed < 0.3 + TIMEOUT_SLACK_SECONDS
    assert "connect" in result.phases


async def test_refused_port(ctx: ProbeContext) -> None:
    port = closed_port()
    result = await tcp.probe(target(port), ctx)
    # The refusal names the address refused (issue 8).
    assert (result.reason, result.message) == ("connect_refused",
                                               f"connection to 127.0.0.1:{port} refused")


async def test_unresolvable_host_is_dns(ctx: ProbeContext) -> None:
    result = await tcp.probe(target(80, host="core-gateway.invalid"), ctx)
    assert result.reason == "dns"
    assert "core-gateway.invalid" in result.message


async def test_host_name_idna_cannot_encode_is_dns(ctx: ProbeContext) -> None:
    result = await tcp.probe(target(80, host="a" * 64 + ".example"), ctx)
    assert result.reason == "dns"
    assert "invalid host name" in result.message


async def test_reset_mid_exchange_is_connect_error(ctx: ProbeContext) -> None:
    async with tcp_server(reset) as served:
        result = await tcp.probe(target(served.port, expect_regex="."), ctx)
    assert result.reason == "connect_error"
    assert result.message.startswith(f"first_byte 127.0.0.1:{served.port}: ")


async def test_latency_over_threshold_is_degraded(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        slow = await tcp.probe(target(served.port, latency_seconds=1e-9), ctx)
        fast = await tcp.probe(target(served.port, latency_seconds=10.0), ctx)
    assert slow.success
    assert slow.degraded
    assert slow.result_label == "degraded"
    assert "latency threshold" in slow.message
    assert fast.success
    assert not fast.degraded


async def test_send_outside_latin1_is_protocol_without_connecting(ctx: ProbeContext) -> None:
    result = await tcp.probe(target(closed_port(), send="price in €"), ctx)
    assert result.reason == "protocol"
    assert "'€'" in result.message
    assert result.phases == {}


async def test_tls_verified_reports_expiry(ctx: ProbeContext, pki: Pki) -> None:
    config = TlsClientConfig(ca_file=pki.ca_file)
    async with tcp_server(echo, ssl_context=pki.server_context()) as served:
        result = await tcp.probe(target(served.port, tls=True, tls_config=config,
                                        send="hi", expect_regex="hi"), ctx)
    assert result.success, result.message
    assert {"connect", "tls", "first_byte"} <= set(result.phases)
    assert result.details["tls_version"].startswith("TLS")
    assert result.details["cipher"]
    assert result.cert_expiry_timestamp == pytest.approx(32503680000.0)  # trustme: year 3000


async def test_tls_untrusted_is_tls(ctx: ProbeContext, pki: Pki) -> None:
    async with tcp_server(echo, ssl_context=pki.server_context()) as served:
        result = await tcp.probe(target(served.port, tls=True), ctx)  # system CAs only
    assert result.reason == "tls"
    assert "certificate" in result.message


async def test_tls_insecure_skips_verification_but_reports_expiry(
    ctx: ProbeContext, pki: Pki,
) -> None:
    config = TlsClientConfig(insecure_skip_verify=True)
    async with tcp_server(echo, ssl_context=pki.server_context()) as served:
        result = await tcp.probe(target(served.port, tls=True, tls_config=config), ctx)
    assert result.success
    # trustme certificates are valid for years: the expiry is read though unverified.
    assert result.cert_expiry_timestamp is not None
    assert result.cert_expiry_timestamp > time.time() + 86400


async def test_tls_against_plain_server_is_tls(ctx: ProbeContext) -> None:
    async with tcp_server(echo) as served:  # echoes the ClientHello back: not TLS
        result = await tcp.probe(target(served.port, tls=True), ctx)
    assert result.reason == "tls"


async def test_tls_handshake_that_hangs_times_out(ctx: ProbeContext) -> None:
    async with tcp_server(hang) as served:
        result = await tcp.probe(target(served.port, tls=True, timeout=0.3), ctx)
        assert await served.wait_idle()
    assert result.reason == "timeout"
    assert "(during tls)" in result.message


async def test_wrong_spec_is_a_bug(ctx: ProbeContext) -> None:
    wrong = Target(name="x", channel="c", kind="tcp", spec=DnsSpec(query_name="a.test."))
    with pytest.raises(TypeError):
        await tcp.probe(wrong, ctx)


# --- pure helpers ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("phase", "exc", "reason", "message"),
    [
        ("connect", TimeoutError(110, "Connection timed out"), "timeout",
         "connect: Connection timed out"),
        ("dns", socket.gaierror(-2, "Name or service not known"), "dns",
         "cannot resolve: Name or service not known"),
        ("tls", ConnectionResetError(104, "Connection reset by peer"), "tls",
         "TLS handshake: Connection reset by peer"),
        ("transfer", ssl.SSLError(1, "bad record mac"), "tls",
         "TLS during transfer: bad record mac"),
        ("connect", ConnectionRefusedError(111, "refused"), "connect_refused",
         "connection refused"),
        ("connect", OSError(113, "No route to host"), "connect_error",
         "connect: No route to host"),
        ("first_byte", OSError(), "connect_error", "first_byte: OSError"),
    ],
)
def test_classify_error(phase: str, exc: OSError, reason: str, message: str) -> None:
    assert classify_error(phase, exc) == (reason, message)


def test_classify_verification_error_uses_openssl_message() -> None:
    exc = ssl.SSLCertVerificationError(1, "verify failed")
    exc.verify_message = "certificate has expired"
    assert classify_error("tls", exc) == ("tls", "TLS handshake: certificate has expired")
    assert classify_error("tls", exc, "[::1]:443") == (
        "tls", "TLS handshake with [::1]:443: certificate has expired")
    refused = ConnectionRefusedError(111, "refused")
    assert classify_error("connect", refused, "10.1.2.3:8583") == (
        "connect_refused", "connection to 10.1.2.3:8583 refused")

def test_encode_payload() -> None:
    assert encode_payload(None) == b""
    assert encode_payload("\x00\x10\xffA\r\n") == b"\x00\x10\xffA\r\n"
    with pytest.raises(ValueError, match=r"'€' at 3 is not one byte"):
        encode_payload("abc€")


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_read_until_match_within_limit() -> None:
    clock = PhaseClock()
    clock.begin("first_byte")
    assert await read_until(_reader(b"abcOK" + b"z" * 100), re.compile("OK"), 5, clock) == 6
    assert {"first_byte", "transfer"} <= set(clock.phases)


async def test_read_until_match_past_limit_is_too_large() -> None:
    with pytest.raises(ProbeFailure) as info:
        await read_until(_reader(b"abcdOK"), re.compile("OK"), 5, PhaseClock())
    assert info.value.reason == "too_large"


async def test_read_until_eof_at_limit_is_body_mismatch() -> None:
    with pytest.raises(ProbeFailure) as info:
        await read_until(_reader(b"abcde"), re.compile("OK"), 5, PhaseClock())
    assert info.value.reason == "body_mismatch"
    assert "closed after 5 bytes without a match for 'OK'" in info.value.message
