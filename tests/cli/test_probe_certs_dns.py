"""``omniwatch probe`` of TLS and DNS targets, through the real command and real servers:
the certificate's expiry in the table and JSON, ``--min-valid``, and ``dns://`` URLs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from monitor.cli.common import UsageError
from monitor.cli.parser import build_parser
from monitor.cli.probe import cert_expiry_text
from monitor.cli.probe_url import adhoc_target
from monitor.config.model import DnsSpec
from tests.servers import DnsZone, Pki, dns_server, http_server

IN_3_DAYS = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3, minutes=1)


async def omniwatch(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
async def https_base(pki: Pki) -> AsyncIterator[str]:
    """An HTTPS server whose certificate expires in three days."""
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    async with http_server(app, ssl_context=pki.server_context(not_after=IN_3_DAYS)) as base:
        yield base


def port_of(base: str) -> str:
    return base.rsplit(":", 1)[1]


@pytest.mark.parametrize("scheme", ["https", "tls", "tcps"])
async def test_table_shows_the_certificate_expiry(scheme: str, https_base: str,
                                                  pki: Pki) -> None:
    url = f"{https_base}/" if scheme == "https" else f"{scheme}://127.0.0.1:{port_of(https_base)}"
    code, out, err = await omniwatch("probe", url, "--ca-file", pki.ca_file)
    assert code == 0, err
    assert "certificate expires in 3.0 days" in out
    assert IN_3_DAYS.date().isoformat() in out


async def test_json_carries_the_certificate_expiry(https_base: str, pki: Pki) -> None:
    code, out, err = await omniwatch("probe", f"tls://127.0.0.1:{port_of(https_base)}",
                                     "--ca-file", pki.ca_file, "--json")
    assert code == 0, err
    (row,) = json.loads(out)["targets"]
    assert row["cert_expiry_timestamp"] == IN_3_DAYS.timestamp()
    assert row["cert_expiry"] == "expires in 3.0 days"
    assert row["cert_days_left"] == pytest.approx(3.0, abs=0.01)
    assert row["cert_not_after"] == IN_3_DAYS.isoformat()


@pytest.mark.parametrize("scheme", ["https", "tls", "tcps"])
async def test_min_valid_fails_a_certificate_expiring_sooner(scheme: str, https_base: str,
                                                             pki: Pki) -> None:
    url = f"{https_base}/" if scheme == "https" else f"{scheme}://127.0.0.1:{port_of(https_base)}"
    code, out, err = await omniwatch("probe", url, "--ca-file", pki.ca_file, "--min-valid",
                                     "14d", "--json")
    assert code == 1, err
    (row,) = json.loads(out)["targets"]
    assert (row["result"], row["reason"]) == ("failure", "tls")
    assert row["message"] == ("certificate expires in 3.0 days, less than the required "
                              "14 days")
    code, out, err = await omniwatch("probe", url, "--ca-file", pki.ca_file, "--min-valid", "2d")
    assert code == 0, err + out


async def test_rejected_certificate_still_shows_its_expiry(https_base: str) -> None:
    # System CAs do not know the test CA: the probe fails, and still says when it expires.
    code, out, _ = await omniwatch("probe", f"{https_base}/", "--json")
    assert code == 1
    (row,) = json.loads(out)["targets"]
    assert row["reason"] == "tls"
    assert row["cert_expiry_timestamp"] == IN_3_DAYS.timestamp()


@pytest.mark.parametrize("args", [("http://127.0.0.1:1/", "--min-valid", "14d"),
                                  ("tcp://127.0.0.1:1", "--min-valid", "14d"),
                                  ("tls://127.0.0.1:1", "--min-valid", "fortnight")])
async def test_min_valid_usage_errors(args: tuple[str, ...]) -> None:
    code, out, err = await omniwatch("probe", *args)
    assert code == 2
    assert out == ""
    assert "--min-valid" in err or "duration" in err
    assert "Traceback" not in err


ZONE = {("ok.bank.test.", "A"): ["127.0.0.1", "127.0.0.2"],
        ("ok.bank.test.", "MX"): ["10 mail.bank.test."]}


@pytest.fixture
async def dns_port() -> AsyncIterator[int]:
    async with dns_server(DnsZone(records=dict(ZONE))) as port:
        yield port


async def test_dns_url_default_type_a(dns_port: int) -> None:
    code, out, err = await omniwatch("probe", f"dns://127.0.0.1:{dns_port}/ok.bank.test")
    assert code == 0, err
    row = out.splitlines()[1].split()
    assert row[:3] == ["adhoc", f"127.0.0.1:{dns_port}/ok.bank.test/A", "success"]
    assert "NOERROR, 2 answers: 127.0.0.1, 127.0.0.2" in out


async def test_dns_url_with_type_mx_json(dns_port: int) -> None:
    code, out, err = await omniwatch("probe", f"dns://127.0.0.1:{dns_port}/ok.bank.test?type=MX",
                                     "--json")
    assert code == 0, err
    (row,) = json.loads(out)["targets"]
    assert row["kind"] == "dns"
    assert row["details"]["answers"] == "10 mail.bank.test."


async def test_dns_url_nxdomain_fails(dns_port: int) -> None:
    code, out, _ = await omniwatch("probe", f"dns://127.0.0.1:{dns_port}/nope.bank.test",
                                   "--json")
    assert code == 1
    (row,) = json.loads(out)["targets"]
    assert row["details"]["rcode"] == "NXDOMAIN"


@pytest.mark.parametrize("url", ["dns://127.0.0.1/ok.bank.test?type=XX",
                                 "dns://127.0.0.1/ok.bank.test?transport=quic",
                                 "dns://127.0.0.1/ok.bank.test?class=CH",
                                 "dns://127.0.0.1/", "dns://127.0.0.1:99999/x"])
async def test_dns_url_usage_errors(url: str) -> None:
    code, out, err = await omniwatch("probe", url)
    assert code == 2
    assert out == ""
    assert err.startswith("omniwatch probe: ")
    assert "Traceback" not in err


def dns_spec(url: str, latency: float | None) -> DnsSpec:
    """The spec ``omniwatch probe URL`` builds, through the config's own checks."""
    argv = ["probe", url] + ([] if latency is None else ["--latency", str(latency)])
    spec = adhoc_target(url, build_parser().parse_args(argv)).spec
    assert isinstance(spec, DnsSpec)
    return spec


def test_dns_spec_parses_every_form() -> None:
    system = dns_spec("dns:///app.example", None)
    assert (system.server, system.query_name, system.record_type) == (None, "app.example", "A")
    direct = dns_spec("dns://10.0.0.53:5353/app.example?type=mx&transport=tcp", 0.2)
    assert (direct.server, direct.port, direct.record_type, direct.transport) == (
        "10.0.0.53", 5353, "MX", "tcp")
    assert direct.latency_seconds == 0.2
    assert dns_spec("dns://[::1]/app.example", None).server == "::1"
    with pytest.raises(UsageError):
        dns_spec("dns:///two words", None)


def test_cert_expiry_text() -> None:
    assert cert_expiry_text(3 * 86400.0, 0.0) == "expires in 3.0 days"
    assert cert_expiry_text(0.0, 2 * 86400.0) == "expired 2.0 days ago"
