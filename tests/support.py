"""Shared test fixtures: real local servers, and the skip-or-fail rule for services."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser


def require(available: bool, reason: str) -> None:
    """Skip when a needed server or binary is absent; under ``CI=true`` fail instead.

    CI installs and starts everything the suite needs, so there a missing service is a
    broken pipeline, not a reason to go green.
    """
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def require_browser(executable: str) -> None:
    """Skip (fail under CI) without the system Chromium at ``executable`` or Playwright."""
    require(Path(executable).exists(), "chromium not installed (apt-get install chromium)")
    require(importlib.util.find_spec("playwright") is not None,
            "playwright not installed (pip install -e '.[browser]')")
def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, for servers that cannot bind port 0
    themselves (Prometheus): start them in a retry loop, another process may take it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    """Poll ``url`` (a ``/-/ready`` endpoint) until it answers 200: True; False once
    ``process`` has exited or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    return False


@asynccontextmanager
async def headless_chromium(executable: str) -> AsyncIterator[Browser]:
    """The system Chromium at ``executable``, headless, driven by Playwright (skips, or
    fails under CI, as :func:`require_browser` does)."""
    require_browser(executable)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=executable, headless=True,
                                            args=["--disable-dev-shm-usage"])
        try:
            yield launched
        finally:
            await launched.close()
