"""How the HTTP server treats its clients: ``/probe`` load and requests it turned away.

A refused request is a fact an operator wants on a graph (a scraper hitting the /probe
cap, a client sending garbage), not only in a log line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(slots=True)
class ServerStats:
    """Counters kept by the server; plain writes on the event loop thread."""

    probe_requests_in_flight: int = 0
    # (handler, HTTP status) -> requests refused; handler is "" when the request was
    # too malformed to route.
    rejected: Counter[tuple[str, int]] = field(default_factory=Counter)

    def reject(self, handler: str, status: int) -> None:
        """Count one refused request."""
        self.rejected[(handler, status)] += 1


class ServerCollector(Collector):
    """``/probe`` requests in flight and refused requests by handler and status."""

    def __init__(self, stats: ServerStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "omniwatch_probe_requests_in_flight",
            "/probe requests being served now (their probes also count in "
            "omniwatch_probes_in_flight while they run).",
            value=self._stats.probe_requests_in_flight)
        rejected = CounterMetricFamily(
            "omniwatch_http_requests_rejected",
            "HTTP requests refused: /probe over its cap (503), a body too large (413) or "
            "too slow (408), a malformed request (400; handler empty).",
            labels=("handler", "code"))
        for (handler, code), n in sorted(self._stats.rejected.items()):
            rejected.add_metric([handler, str(code)], n)
        yield rejected
