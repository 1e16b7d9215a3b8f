"""The ``server:`` section: listener and client limits."""

from __future__ import annotations

from monitor.config import parse_config
from monitor.config.model import ServerConfig


def test_server_limits_default_and_parse() -> None:
    assert parse_config("channels: {}\n", file="x").server == ServerConfig()
    got = parse_config(
        'server: {listen: "127.0.0.1:0", probe_concurrency: 3, header_timeout: 2s,'
        " body_timeout: 500ms}\n", file="x").server
    assert got == ServerConfig(host="127.0.0.1", port=0, probe_concurrency=3,
                               header_timeout_seconds=2.0, body_timeout_seconds=0.5)
