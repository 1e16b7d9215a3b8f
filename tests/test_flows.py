"""What may be shown of a flow's steps: templates, never what was filled in."""

from __future__ import annotations

import pytest

from monitor.config.model import (
    BrowserSpec,
    BrowserStep,
    HttpSpec,
    JourneySpec,
    JourneyStep,
    Target,
)
from monitor.flows import shown_url, step_requests


@pytest.mark.parametrize(("url", "shown"), [
    # A ${ENV} key resolved at load time sits in the query: its value is masked.
    ("https://h/api/login?api_key=TOPSECRET123", "https://h/api/login?api_key=***"),
    ("https://h/a?x={{ token }}&y=1&flag", "https://h/a?x={{ token }}&y=***&flag"),
    ("https://user:pw@h/a/{{ id }}#frag", "https://h/a/{{ id }}"),
    ("https://h/", "https://h/"),
])
def test_shown_url_masks_query_values_and_user_info(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_step_requests_show_templates_only() -> None:
    journey = Target("j", "app", "journey", JourneySpec(
        steps=(JourneyStep("login", HttpSpec(url="https://h/login?key=K3Y-SECRET",
                                             method="POST")),),
        finally_steps=(JourneyStep("out", HttpSpec(url="https://h/out/{{ session }}")),)))
    assert step_requests(journey) == {"login": "POST https://h/login?key=***",
                                      "out": "GET https://h/out/{{ session }}"}
    browser = Target("b", "web", "browser", BrowserSpec(steps=(
        BrowserStep("goto", "goto", url="https://h/login?token=T0KEN"),
        BrowserStep("fill", "fill", selector="#user", value="customer-name"),
        BrowserStep("expect_requests_ok", "expect_requests_ok"))))
    shown = step_requests(browser)
    assert shown == {"goto": "goto https://h/login?token=***", "fill": "fill #user",
                     "expect_requests_ok": "expect_requests_ok"}
    assert "customer-name" not in repr(shown)
