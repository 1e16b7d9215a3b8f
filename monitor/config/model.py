"""Typed, frozen configuration: what every part of omniwatch reads.

Built by :mod:`monitor.config` from a validated YAML file; nothing downstream reads raw
dicts.  Durations are seconds (``float``), objectives are ratios in (0, 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alerts.config import AlertsConfig

if TYPE_CHECKING:
    from monitor.consistency.model import ConsistencyConfig

DEFAULT_INTERVAL_SECONDS = 30.0
DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class TlsClientConfig:
    """How a probe verifies (or presents) certificates. Verification is on by default."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    server_name: str | None = None


@dataclass(frozen=True, slots=True)
class HttpExpect:
    """Conditions an HTTP response must meet; an empty ``status`` means any 2xx."""

    status: tuple[int, ...] = ()
    body_regex: str | None = None
    body_not_regex: str | None = None
    json: Mapping[str, Any] = field(default_factory=dict)
    json_schema: Mapping[str, Any] | None = None
    latency_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """An ``http`` target."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: int = 10
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tls: TlsClientConfig = TlsClientConfig()
    expect: HttpExpect = HttpExpect()


@dataclass(frozen=True, slots=True)
class TcpSpec:
    """A ``tcp`` target: connect, optional TLS, optional send/expect exchange."""

    host: str
    port: int
    tls: bool = False
    tls_config: TlsClientConfig = TlsClientConfig()
    send: str | None = None
    expect_regex: str | None = None
    latency_seconds: float | None = None
    max_read_bytes: int = 65536


@dataclass(frozen=True, slots=True)
class DnsSpec:
    """A ``dns`` target: resolve ``query_name`` and check the answer."""

    query_name: str
    record_type: str = "A"
    server: str | None = None
    port: int = 53
    transport: str = "udp"
    expect_rcode: str = "NOERROR"
    expect_answers: tuple[str, ...] = ()
    latency_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class TlsSpec:
    """A ``tls`` target: certificate chain, host name and expiry."""

    host: str
    port: int = 443
    tls_config: TlsClientConfig = TlsClientConfig()
    min_valid_seconds: float = 0.0
    latency_seconds: float | None = None


ProbeSpec = HttpSpec | TcpSpec | DnsSpec | TlsSpec


@dataclass(frozen=True, slots=True)
class SloConfig:
    """An availability objective (and optionally a latency objective) over a rolling window.

    ``latency_objective`` is the share of counted probes that must succeed under the
    target's latency threshold (a *degraded* success is bad for it).  ``timezone`` is where
    calendar months start, for the monthly report.
    """

    objective: float = 0.999
    window_seconds: float = 30 * 86400.0
    latency_objective: float | None = None
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Target:
    """One probed endpoint. ``name`` is unique across all channels."""

    name: str
    channel: str
    kind: str
    spec: ProbeSpec
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    confirm: int = 0
    # Its own SLO besides the channel's, when configured.
    slo: SloConfig | None = None
    # Its own labels (sorted pairs), overlaid on the channel's: for alert routing.
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def latency_threshold_seconds(self) -> float | None:
        """The latency above which a success is *degraded*, when configured."""
        if isinstance(self.spec, HttpSpec):
            return self.spec.expect.latency_seconds
        return self.spec.latency_seconds


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """When a channel is open; probes outside these hours are not counted."""

    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    start: str  # "HH:MM"
    end: str  # "HH:MM"
    tz: str = "UTC"


@dataclass(frozen=True, slots=True)
class Channel:
    """A customer channel (app, website, mini-program, branch) and its targets."""

    name: str
    targets: tuple[Target, ...] = ()
    service_hours: ServiceHours | None = None
    slo: SloConfig = SloConfig()
    # Labels (sorted pairs) on every alert about the channel or its targets: for routing.
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where history lives: one SQLite file, or a shared PostgreSQL."""

    sqlite_path: str | None = "omniwatch.db"
    postgres_dsn: str | None = None
    flush_interval_seconds: float = 10.0
    # Buckets buffered while the database is down (about 300 bytes each): at 10,000
    # targets, ten minutes at full resolution, then about nine hours as hour buckets.
    max_pending: int = 100_000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The HTTP listener for /metrics, /probe and the API, and its limits on clients."""

    host: str = "127.0.0.1"
    port: int = 9470
    # /probe requests served at once; each also holds a scheduler slot while it probes.
    probe_concurrency: int = 8
    # A slow client (slowloris) holds a connection at most this long without a request.
    header_timeout_seconds: float = 15.0
    body_timeout_seconds: float = 10.0
    # Mutating API calls (silences) are refused unless this token is configured and sent.
    api_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """How probes are run: the global cap on probes in flight."""

    max_concurrency: int = 512


@dataclass(frozen=True, slots=True)
class MaintenanceConfig:
    """A maintenance window: one-off (``start``/``end``) or recurring (``cron``/duration).

    ``channels`` and ``targets`` scope it; both empty means every probe.
    """

    name: str
    start: float | None = None
    end: float | None = None
    cron: str | None = None
    duration_seconds: float = 0.0
    tz: str = "UTC"
    channels: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Config:
    """A whole, validated omniwatch configuration."""

    channels: tuple[Channel, ...] = ()
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    slo: SloConfig = SloConfig()
    maintenance: tuple[MaintenanceConfig, ...] = ()
    consistency: ConsistencyConfig | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    source: str = "<embedded>"

    @property
    def targets(self) -> tuple[Target, ...]:
        """Every target of every channel, in configuration order."""
        return tuple(t for c in self.channels for t in c.targets)

    def target(self, name: str) -> Target | None:
        """The target called ``name``, or None."""
        for t in self.targets:
            if t.name == name:
                return t
        return None
