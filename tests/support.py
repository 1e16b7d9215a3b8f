"""Shared test fixtures: real local servers, and the skip-or-fail rule for services."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


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
