"""The one headless Chromium that every ``browser`` check shares (issue 10).

Contract (implemented by the browser probe's author): the pool is created empty with the
process's :class:`~probes.context.ProbeContext`, launches the browser only when the first
``browser`` check asks for a page, caps checks with a page open at
``BrowserConfig.max_concurrency``, gives each check a fresh context, and is closed once
by the runtime at shutdown.
"""

from __future__ import annotations

from monitor.config.model import BrowserConfig


class BrowserPool:
    """Shared Chromium for ``browser`` checks; see the module doc."""

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()

    def configure(self, config: BrowserConfig) -> None:
        """Use ``config`` from the next check on (a reload); a running browser is kept
        unless the executable changed."""
        self.config = config

    async def aclose(self) -> None:
        """Close the browser, if it was started."""
