"""The HTTP server (aiohttp): ``/metrics``, ``/probe``, ``/-/reload``, ``/healthz``,
``/readyz`` and the status page."""

from monitor.server.app import build_app, start_server

__all__ = ["build_app", "start_server"]
