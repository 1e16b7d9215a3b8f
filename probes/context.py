"""Shared, process-wide resources a probe may use (owned by the runtime, never global)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from monitor.config.model import TlsClientConfig
from probes._browser_pool import BrowserPool
from probes._journey_plan import JourneyPlans


@dataclass(slots=True)
class SslContextCache:
    """Builds each distinct client TLS context once.

    Creating an ``SSLContext`` and loading the system CA store costs milliseconds (about
    50 ms for the system store); at thousands of probes a second that would dominate, so
    contexts are shared by config.  Probes fetch their context *before* starting their
    clock: building one is omniwatch's cost, not the target's, and must not make the first
    probe of a process look slow.
    """

    _contexts: dict[tuple[TlsClientConfig, bool], ssl.SSLContext] = field(default_factory=dict)

    def get(self, cfg: TlsClientConfig, *, verify: bool | None = None) -> ssl.SSLContext:
        """A context for ``cfg``; ``verify=False`` forces an unverified one (for inspection)."""
        do_verify = (not cfg.insecure_skip_verify) if verify is None else verify
        key = (cfg, do_verify)
        ctx = self._contexts.get(key)
        if ctx is None:
            if do_verify:
                ctx = ssl.create_default_context(cafile=cfg.ca_file)
            else:
                # No CA store to load (the system one costs ~50 ms): nothing is verified.
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if cfg.cert_file and cfg.key_file:
                ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
            self._contexts[key] = ctx
        return ctx


@dataclass(frozen=True, slots=True)
class ProbeContext:
    """What every probe function receives besides its target."""

    ssl_contexts: SslContextCache = field(default_factory=SslContextCache)
    # Started on the first browser check only; the runtime closes it at shutdown.
    browsers: BrowserPool = field(default_factory=BrowserPool)
    # Each journey's parsed JSON paths, regexes and schema validators, built once.
    journey_plans: JourneyPlans = field(default_factory=JourneyPlans)
