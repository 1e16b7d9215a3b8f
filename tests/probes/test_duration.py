"""A probe's duration is what the target cost: one-time setup stays outside the clock.

The first probe of a fresh :class:`ProbeContext` builds its TLS context (loading a CA
bundle: tens of milliseconds for the system store) and imports what it needs lazily.
That used to sit inside the timed span, so the first ``omniwatch probe`` of a 2 ms
target reported 40 ms and ``--latency 15ms`` called it degraded.  These tests check the
*relation* between a first probe's duration and its phases, never an absolute time: the
CA bundle here is made slow to load on purpose (a thousand copies of one CA), so a setup
cost inside the span would dwarf the phases.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from monitor.config.model import (
    DnsSpec,
    HttpExpect,
    HttpSpec,
    Target,
    TcpSpec,
    TlsClientConfig,
    TlsSpec,
)
from probes import PROBES
from probes.context import ProbeContext
from probes.result import ProbeResult
from probes.runner import run_target
from tests.servers import DnsZone, Pki, dns_server, http_server

SCHEMA = {"type": "object", "required": ["status"]}


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def slow_bundle(pki: Pki, tmp_path: Path) -> str:
    """A CA bundle that takes a few hundred milliseconds to load (as large corporate
    bundles do), trusting the test CA."""
    path = tmp_path / "bundle.pem"
    path.write_text(Path(pki.ca_file).read_text() * 1000)
    return str(path)


@pytest.fixture
async def https_base(pki: Pki) -> AsyncIterator[str]:
    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"status": "UP"})

    app = web.Application()
    app.router.add_get("/ok", ok)
    async with http_server(app, ssl_context=pki.server_context()) as base:
        yield base


def assert_duration_is_the_phases(result: ProbeResult) -> None:
    assert result.success, result.message
    phases = sum(result.phases.values())
    # Between the phases only a little Python runs; the slow bundle (hundreds of ms)
    # or an import would make the gap many times the phases themselves.
    gap = result.duration_seconds - phases
    assert 0 <= gap < 0.5 * phases, (result.duration_seconds, dict(result.phases))


def target(kind: str, spec: object) -> Target:
    return Target(name="t", channel="c", kind=kind, spec=spec,  # type: ignore[arg-type]
                  timeout_seconds=5.0)


async def test_first_https_probe_excludes_tls_context_setup(https_base: str,
                                                            slow_bundle: str) -> None:
    spec = HttpSpec(url=f"{https_base}/ok", tls=TlsClientConfig(ca_file=slow_bundle))
    result = await run_target(target("http", spec), ProbeContext(), PROBES["http"])
    assert_duration_is_the_phases(result)


async def test_first_https_probe_with_a_schema_excludes_its_setup(https_base: str,
                                                                  slow_bundle: str) -> None:
    spec = HttpSpec(url=f"{https_base}/ok", tls=TlsClientConfig(ca_file=slow_bundle),
                    expect=HttpExpect(json_schema=SCHEMA))
    result = await run_target(target("http", spec), ProbeContext(), PROBES["http"])
    assert_duration_is_the_phases(result)


async def test_first_tls_probe_excludes_tls_context_setup(https_base: str,
                                                          slow_bundle: str) -> None:
    port = int(https_base.rsplit(":", 1)[1])
    spec = TlsSpec(host="127.0.0.1", port=port, tls_config=TlsClientConfig(ca_file=slow_bundle))
    result = await run_target(target("tls", spec), ProbeContext(), PROBES["tls"])
    assert_duration_is_the_phases(result)


async def test_first_tcps_probe_excludes_tls_context_setup(https_base: str,
                                                           slow_bundle: str) -> None:
    port = int(https_base.rsplit(":", 1)[1])
    spec = TcpSpec(host="127.0.0.1", port=port, tls=True,
                   tls_config=TlsClientConfig(ca_file=slow_bundle))
    result = await run_target(target("tcp", spec), ProbeContext(), PROBES["tcp"])
    assert_duration_is_the_phases(result)


async def test_first_dns_probe_is_its_question() -> None:
    zone = DnsZone(records={("ok.bank.test.", "A"): ["127.0.0.1"]})
    async with dns_server(zone) as port:
        spec = DnsSpec(query_name="ok.bank.test", server="127.0.0.1", port=port)
        result = await run_target(target("dns", spec), ProbeContext(), PROBES["dns"])
    assert_duration_is_the_phases(result)


async def test_cli_latency_threshold_on_a_fast_target_is_not_degraded(
        https_base: str, slow_bundle: str) -> None:
    """``omniwatch probe --latency`` judges the target, not omniwatch's start-up."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "probe", f"{https_base}/ok", "--ca-file",
        slow_bundle, "--latency", "250ms", "--json",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    (row,) = json.loads(out)["targets"]
    assert row["result"] == "success", row
    phases = sum(row["phases"].values())
    assert row["last_duration_seconds"] - phases < 0.5 * phases, row
