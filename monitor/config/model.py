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


@dataclass(frozen=True, slots=True)
class Extract:
    """One value a journey step takes from its response into the variable ``var``.

    ``source`` is ``json`` (``key`` a JSON path such as ``$.data.token``), ``header``
    (``key`` a header name, any case), ``cookie`` (``key`` a cookie name set by the
    response or earlier in the journey) or ``regex`` (``key`` a pattern searched in the
    decoded body; ``group`` its group number or name).
    """

    var: str
    source: str
    key: str
    group: int | str = 1


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """One HTTP step of a journey.

    ``request`` holds the step's request and expectations; its ``url``, header values and
    ``body`` may contain ``{{ name }}`` placeholders, filled from the journey's variables
    when the step runs.  ``json_body`` (the step's ``request.json``) is sent as
    ``application/json`` after every string inside it is filled the same way; it is
    ``None`` when the step sends ``body`` or nothing.
    """

    name: str
    request: HttpSpec
    json_body: Any = None
    extract: tuple[Extract, ...] = ()


@dataclass(frozen=True, slots=True)
class JourneySpec:
    """A ``journey`` target: HTTP steps run in order on one client (cookies carried).

    ``vars`` are the starting variables (``${ENV}`` already resolved at load time); they
    and every extracted value are secrets (``repr=False``: never in a log or a
    traceback).  ``finally_steps`` always run, even after a failed step, and decide the
    result only when the steps before them all succeeded.  ``latency_seconds`` is the
    whole journey's threshold for a *degraded* success.
    """

    steps: tuple[JourneyStep, ...]
    finally_steps: tuple[JourneyStep, ...] = ()
    vars: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    latency_seconds: float | None = None


# The browser step actions, in the order the docs list them.
BROWSER_ACTIONS = ("goto", "click", "fill", "wait_for", "expect_text",
                   "expect_no_console_errors", "expect_requests_ok")


@dataclass(frozen=True, slots=True)
class BrowserStep:
    """One step of a ``browser`` check.

    ``goto`` uses ``url``; ``click`` and ``fill`` a ``selector`` (``fill`` also ``value``,
    which may hold ``{{ name }}`` and is a secret); ``wait_for`` a ``selector`` or a
    ``text``; ``expect_text`` a ``text`` (inside ``selector`` when given, else the page);
    ``expect_no_console_errors`` and ``expect_requests_ok`` nothing: they judge what the
    page did since it was opened.  ``timeout_seconds`` bounds the step (never past the
    check's own timeout).
    """

    name: str
    action: str
    url: str | None = None
    selector: str | None = None
    text: str | None = None
    value: str | None = field(default=None, repr=False)
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class BrowserSpec:
    """A ``browser`` target: a real page in headless Chromium, step by step."""

    steps: tuple[BrowserStep, ...]
    vars: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    viewport: tuple[int, int] = (1280, 800)
    ignore_https_errors: bool = False
    latency_seconds: float | None = None


ProbeSpec = HttpSpec | TcpSpec | DnsSpec | TlsSpec | JourneySpec | BrowserSpec


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

    @property
    def is_flow(self) -> bool:
        """A multi-step check (``journey`` or ``browser``): it has steps and a flow time."""
        return isinstance(self.spec, JourneySpec | BrowserSpec)


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
class BrowserConfig:
    """The one headless Chromium that every ``browser`` check shares.

    ``executable`` is the system browser (no browser is downloaded at run time);
    ``max_concurrency`` checks have a page open at once (browsers are heavy; the others
    wait, within their own timeout); a failed check keeps a screenshot in
    ``screenshot_dir`` (relative to the config file), at most ``max_screenshots`` of them,
    the oldest deleted first.
    """

    executable: str = "/usr/bin/chromium"
    max_concurrency: int = 2
    screenshot_dir: str = "screenshots"
    max_screenshots: int = 100


@dataclass(frozen=True, slots=True)
class FlowObjective:
    """A flow-time objective for a journey or browser target.

    A percentile of the durations of *successful* runs must be at most ``max_seconds``,
    or, as a plan, ``baseline_seconds`` reduced by ``reduce_by`` (a ratio: 30% is 0.3) by
    the time ``by`` (Unix seconds, midnight UTC of the date).  ``since`` is when the plan
    started (Unix seconds); without it the plan runs from the first week with data.
    """

    target: str
    percentile: float
    max_seconds: float | None = None
    baseline_seconds: float | None = None
    reduce_by: float | None = None
    by: float | None = None
    since: float | None = None

    @property
    def objective_seconds(self) -> float:
        """The duration the percentile must come under: ``max`` or the planned one."""
        if self.max_seconds is not None:
            return self.max_seconds
        # The builder refuses an objective with neither max nor baseline and reduce_by.
        baseline = self.baseline_seconds or 0.0
        return baseline * (1.0 - (self.reduce_by or 0.0))


@dataclass(frozen=True, slots=True)
class JourneysConfig:
    """The ``journeys:`` section: flow-time objectives."""

    objectives: tuple[FlowObjective, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """A whole, validated omniwatch configuration."""

    channels: tuple[Channel, ...] = ()
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    slo: SloConfig = SloConfig()
    maintenance: tuple[MaintenanceConfig, ...] = ()
    # One config per dataset of the consistency: section, in the order written.
    consistency: tuple[ConsistencyConfig, ...] = ()
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    browser: BrowserConfig = BrowserConfig()
    journeys: JourneysConfig = JourneysConfig()
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
