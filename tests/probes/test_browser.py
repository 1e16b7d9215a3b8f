"""The browser probe in the system's headless Chromium against a local site (port 0).

One browser pool (one Chromium) and one site serve the whole module: starting a browser
is the slow part.  Skipped without Chromium or Playwright, failed instead under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib.util
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from monitor.config.model import BrowserConfig, BrowserSpec, BrowserStep, Channel, Config, Target
from monitor.runtime.monitor import Monitor
from probes import PROBES
from probes import _browser_pool as browser_pool
from probes._browser_pool import BrowserPool
from probes.browser import Tally, screenshot_reserve_seconds
from probes.context import ProbeContext
from probes.result import NotRun, ProbeResult
from probes.runner import run_target
from tests.browserpage import PageSite, page_server
from tests.servers import Pki, closed_port
from tests.support import require_browser

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CHROMIUM = BrowserConfig().executable
# What a check may take past its timeout: closing its context, the runner's guard.
MARGIN_SECONDS = 1.0


def _require_browser() -> None:
    require_browser(CHROMIUM)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_pool() -> AsyncIterator[BrowserPool]:
    _require_browser()
    pool = BrowserPool()
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site() -> AsyncIterator[PageSite]:
    async with page_server() as served:
        yield served


@pytest.fixture
def ctx(shared_pool: BrowserPool, tmp_path: Path) -> ProbeContext:
    """The shared pool, with this test's own screenshot folder."""
    shared_pool.configure(BrowserConfig(screenshot_dir=str(tmp_path / "shots")))
    return ProbeContext(browsers=shared_pool)


# Sync helpers: the test bodies are coroutines, where file I/O is kept out of the way.
def _exists(path: str) -> bool:
    return Path(path).exists()


def _png(path: Path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG")


def step(name: str, action: str, **fields: object) -> BrowserStep:
    return BrowserStep(name=name, action=action, **fields)  # type: ignore[arg-type]


def target(*steps: BrowserStep, timeout: float = 10.0, name: str = "web-transfer",
           **spec: object) -> Target:
    return Target(name=name, channel="website", kind="browser",
                  spec=BrowserSpec(steps=steps, **spec),  # type: ignore[arg-type]
                  timeout_seconds=timeout)


async def check(t: Target, ctx: ProbeContext) -> ProbeResult:
    return await run_target(t, ctx, PROBES["browser"])


async def test_ok_page_passes_every_step_and_reports_timings(
        site: PageSite, ctx: ProbeContext) -> None:
    started = time.perf_counter()
    result = await check(target(
        step("open", "goto", url=site.page("/ok")),
        step("greeting", "expect_text", text="Welcome to the bank"),
        step("button", "wait_for", selector="#transfer"),
        step("transfer", "click", selector="#transfer"),
        step("started", "expect_text", selector="#status", text="Transfer started"),
        step("console", "expect_no_console_errors"),
        step("requests", "expect_requests_ok"),
    ), ctx)
    elapsed = time.perf_counter() - started
    assert result.success, result.message
    assert (result.reason, result.status_code, result.degraded) == ("ok", 200, False)
    # The first check of the module started the browser, and that is not the page's time.
    assert ctx.browsers.launches == 1
    assert result.duration_seconds < elapsed - 0.2
    assert [(s.name, s.reason) for s in result.steps] == [
        ("open", "ok"), ("greeting", "ok"), ("button", "ok"), ("transfer", "ok"),
        ("started", "ok"), ("console", "ok"), ("requests", "ok")]
    assert result.steps[0].status_code == 200
    # The button appears 200 ms after the bundle ran, which is after goto began: by the
    # end of wait_for at least that long has passed (on a slow machine goto and the
    # greeting may take all of it, so wait_for alone need not have waited).
    assert sum(s.duration_seconds for s in result.steps[:3]) > 0.18
    assert result.duration_seconds >= sum(s.duration_seconds for s in result.steps)
    # The button's arrival shifts the layout: CLS is measured (and small), as is LCP.
    assert set(result.measurements) == {"ttfb_seconds", "fcp_seconds", "lcp_seconds", "cls",
                                        "dom_content_loaded_seconds", "load_seconds"}
    m = result.measurements
    assert 0 < m["ttfb_seconds"] <= m["dom_content_loaded_seconds"] <= m["load_seconds"] < 10
    assert "screenshot" not in result.details
    assert not _exists(ctx.browsers.config.screenshot_dir)


async def test_missing_script_bundle_fails_request_failed_naming_it(
        site: PageSite, ctx: ProbeContext) -> None:
    result = await check(target(
        step("open", "goto", url=site.page("/missing-bundle")),
        step("console", "expect_no_console_errors"),
        step("requests", "expect_requests_ok"),
        step("after", "expect_text", text="Welcome"),
    ), ctx)
    assert (result.success, result.reason) == (False, "request_failed")
    # Chromium's own "Failed to load resource" line is the requests step's business.
    assert result.steps[1].success
    # The query string (it may carry a token) is not shown.
    assert result.message == "step requests: GET /static/app-missing.js 404"
    assert result.details["step"] == "requests"
    assert [(s.reason, s.skipped) for s in result.steps[2:]] == [
        ("request_failed", False), ("skipped", True)]
    assert result.steps[3].duration_seconds == 0
    shot = Path(result.details["screenshot"])
    assert shot.parent == Path(ctx.browsers.config.screenshot_dir)
    assert _png(shot)
    assert "load_seconds" in result.measurements  # measured on failure too


async def test_console_error_and_uncaught_exception_fail_console_error(
        site: PageSite, ctx: ProbeContext) -> None:
    result = await check(target(
        step("open", "goto", url=site.page("/console-error")),
        step("console", "expect_no_console_errors"),
    ), ctx)
    assert (result.success, result.reason) == (False, "console_error")
    # Where, never what: the text may be anything the page holds (the query too).
    assert result.message == ("step console: 1 console error, first at /static/errors.js:2; "
                              "1 uncaught error, first at /static/errors.js:3 (TypeError)")
    assert "4242" not in repr(result)
    assert "secretField" not in repr(result)


async def test_a_console_echoing_the_typed_value_never_shows_it(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/echo")),
               step("pw", "fill", selector="#pw", value="{{ pw }}"),
               step("console", "expect_no_console_errors"),
               vars=(("pw", "S3cretPass!"),))
    result = await check(t, ctx)
    assert result.reason == "console_error"
    assert result.message == "step console: 1 console error, first at /static/echo.js:3"
    assert "S3cret" not in repr(result)


async def test_a_console_spamming_page_is_counted_not_kept(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/spam")),
               step("settle", "wait_for", selector="p"),
               step("console", "expect_no_console_errors"))
    result = await check(t, ctx)
    assert result.reason == "console_error"
    assert re.fullmatch(r"step console: \d+ console errors, first at /spam:1", result.message)
    assert "spam x" not in result.message


async def test_tally_keeps_the_first_and_a_count() -> None:
    tally = Tally()
    described: list[int] = []

    def describe(i: int) -> str:
        described.append(i)
        return f"at {i}"

    for i in range(10_000):
        tally.add(functools.partial(describe, i))
    assert (tally.count, tally.first, described) == (10_000, "at 0", [0])


async def test_button_that_never_appears_times_out_naming_the_step(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/no-button")),
               step("button", "wait_for", selector="#transfer", timeout_seconds=1.0),
               step("transfer", "click", selector="#transfer"), timeout=5.0)
    started = time.perf_counter()
    result = await check(t, ctx)
    elapsed = time.perf_counter() - started
    assert (result.success, result.reason) == (False, "timeout")
    assert result.message == "step button: #transfer not visible within 1s"
    assert result.details["step"] == "button"
    assert result.steps[2].skipped
    assert 1.0 <= result.duration_seconds < 1.0 + MARGIN_SECONDS
    assert elapsed < 5.0  # the step's own timeout decided, and a screenshot was kept
    assert _png(Path(result.details["screenshot"]))


async def test_check_timeout_bounds_a_step_without_its_own(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/no-button")),
               step("button", "wait_for", selector="#transfer"), timeout=1.5)
    started = time.perf_counter()
    result = await check(t, ctx)
    assert time.perf_counter() - started < 1.5 + MARGIN_SECONDS
    assert result.reason == "timeout"
    assert re.fullmatch(r"step button: #transfer not visible within [01]\.\d+s", result.message)


async def test_a_check_that_runs_out_of_time_still_keeps_a_screenshot(
        site: PageSite, ctx: ProbeContext) -> None:
    timeout = 5.0
    t = target(step("open", "goto", url=site.page("/no-button")),
               step("button", "wait_for", selector="#transfer"), timeout=timeout)
    started = time.perf_counter()
    result = await check(t, ctx)
    assert time.perf_counter() - started < timeout + MARGIN_SECONDS
    assert result.reason == "timeout"
    # The step got the check's time less the screenshot's share, and the picture was kept.
    reserve = screenshot_reserve_seconds(timeout)
    assert reserve == 0.5
    assert result.steps[1].duration_seconds <= timeout - reserve
    assert _png(Path(result.details["screenshot"]))
    assert screenshot_reserve_seconds(60.0) == 1.0


async def test_server_that_never_answers_ends_by_the_timeout(
        site: PageSite, ctx: ProbeContext) -> None:
    started = time.perf_counter()
    result = await check(target(step("open", "goto", url=site.page("/hang")), timeout=2.0), ctx)
    assert time.perf_counter() - started < 2.0 + MARGIN_SECONDS
    assert (result.reason, result.details["step"]) == ("timeout", "open")
    assert result.message.startswith("step open: page not loaded within")


async def test_a_hung_page_cannot_outlive_the_timeout(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/busy")), timeout=2.0)
    started = time.perf_counter()
    result = await check(t, ctx)
    assert time.perf_counter() - started < 2.0 + MARGIN_SECONDS
    assert (result.reason, result.details["step"]) == ("timeout", "open")
    after = await check(target(step("open", "goto", url=site.page("/ok"))), ctx)
    assert after.success, after.message


async def test_main_document_error_status_fails_http_status(
        site: PageSite, ctx: ProbeContext) -> None:
    result = await check(target(step("open", "goto", url=site.page("/status/503"))), ctx)
    assert (result.reason, result.status_code, result.message) == (
        "http_status", 503, "step open: status 503")


async def test_refused_connection_and_unknown_name(ctx: ProbeContext) -> None:
    refused = await check(target(step("open", "goto",
                                      url=f"http://127.0.0.1:{closed_port()}/")), ctx)
    assert (refused.reason, refused.message) == (
        "connect_refused", "step open: ERR_CONNECTION_REFUSED")
    assert refused.measurements == {}  # Chromium's error page is not the site
    unknown = await check(target(step("open", "goto", url="http://omniwatch.invalid/")), ctx)
    assert (unknown.reason, unknown.message) == ("dns", "step open: ERR_NAME_NOT_RESOLVED")


async def test_untrusted_certificate_is_tls_unless_ignored(
        ctx: ProbeContext, tmp_path: Path) -> None:
    pki = Pki(tmp_path)  # a CA the browser does not trust
    async with page_server(ssl_context=pki.server_context()) as tls_site:
        steps = (step("open", "goto", url=tls_site.page("/ok")),)
        refused = await check(target(*steps), ctx)
        ignored = await check(target(*steps, ignore_https_errors=True), ctx)
    assert (refused.reason, refused.message) == ("tls", "step open: ERR_CERT_AUTHORITY_INVALID")
    assert ignored.success, ignored.message


async def test_fill_types_the_variable_and_never_shows_it(
        site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/form")),
               step("user", "fill", selector="#user", value="{{ user }}"),
               step("echo", "expect_text", selector="#echo", text="typed 9"),
               step("missing", "fill", selector="#nothing", value="{{ user }}",
                    timeout_seconds=0.5),
               vars=(("user", "alice-123"),))
    result = await check(t, ctx)
    assert [s.reason for s in result.steps] == ["ok", "ok", "ok", "timeout"]
    assert result.message == "step missing: #nothing not editable within 0.5s"
    assert "alice" not in repr(result)


async def test_each_check_gets_a_fresh_context(site: PageSite, ctx: ProbeContext) -> None:
    t = target(step("open", "goto", url=site.page("/cookie")),
               step("reload", "goto", url=site.page("/cookie")),
               step("seen", "expect_text", text="cookie yes"))
    first, second = await check(t, ctx), await check(t, ctx)
    # Within a check the cookie is carried; the next check starts without it.
    assert first.success, first.message
    assert second.success, second.message
    fresh = await check(target(step("open", "goto", url=site.page("/cookie")),
                               step("seen", "expect_text", text="cookie no")), ctx)
    assert fresh.success, fresh.message


async def test_concurrency_cap_keeps_one_page_open(
        site: PageSite, shared_pool: BrowserPool, tmp_path: Path) -> None:
    shared_pool.configure(BrowserConfig(max_concurrency=1, screenshot_dir=str(tmp_path)))
    ctx = ProbeContext(browsers=shared_pool)
    site.slow_peak = site.slow_served = 0
    t = target(step("open", "goto", url=site.page("/slow")), latency_seconds=5.0)
    started = time.perf_counter()

    async def timed() -> tuple[ProbeResult, float]:
        result = await check(t, ctx)
        return result, time.perf_counter() - started

    try:
        results = await asyncio.gather(*(timed() for _ in range(3)))
    finally:
        shared_pool.configure(BrowserConfig())
    assert [r.reason for r, _ in results] == ["ok"] * 3
    assert (site.slow_peak, site.slow_served) == (1, 3)
    # Waiting for the slot is not the page's time: the last check waited for two others,
    # each holding a 300 ms bundle, and none of that is in its duration.
    last, last_wall = max(results, key=lambda pair: pair[1])
    assert last.duration_seconds >= 0.3
    assert last.duration_seconds <= last_wall - 0.6


async def test_a_check_must_start_with_half_its_time_and_at_least_a_second_left() -> None:
    assert browser_pool.start_by(100.0, 9.0) == 95.5
    assert browser_pool.start_by(100.0, 30.0) == 85.0
    assert browser_pool.start_by(100.0, 1.5) == 99.0  # 1 s left at least
    assert browser_pool.start_by(100.0, 1.0) == 99.0  # at its start: only a free slot


async def test_a_check_without_a_slot_in_time_is_not_run(
        site: PageSite, shared_pool: BrowserPool, tmp_path: Path) -> None:
    shared_pool.configure(BrowserConfig(max_concurrency=1, screenshot_dir=str(tmp_path)))
    ctx = ProbeContext(browsers=shared_pool)
    steps = (step("open", "goto", url=site.page("/late")),
             step("late", "wait_for", selector="#late"))  # holds the one slot ~3 s
    # The first holds the slot ~3 s; the second waits for it (it may until 6.2 s) and
    # holds it ~3 s more; the third must have it by 4.4 s, and gets it no sooner than 6 s.
    first, second = target(*steps, timeout=12.0), target(*steps, timeout=12.0)
    third = target(*steps, timeout=8.0, name="web-third")
    await shared_pool.start()  # a launch is no part of this
    started = time.perf_counter()

    async def after(seconds: float, t: Target) -> tuple[ProbeResult | NotRun, float]:
        await asyncio.sleep(seconds)  # in the queue in this order
        try:
            outcome: ProbeResult | NotRun = await check(t, ctx)
        except NotRun as exc:
            outcome = exc
        return outcome, time.perf_counter() - started

    try:
        (done, _), (waited, _), (skipped, gave_up) = await asyncio.gather(
            after(0.0, first), after(0.2, second), after(0.4, third))
    finally:
        shared_pool.configure(BrowserConfig())
    assert isinstance(done, ProbeResult)
    assert isinstance(waited, ProbeResult)
    assert (done.reason, waited.reason) == ("ok", "ok"), (done.message, waited.message)
    assert isinstance(skipped, NotRun), skipped
    assert (skipped.reason, skipped.message) == (
        "browser_busy", "the browser's 1 page slot stayed busy")
    # It gave up at its start_by (0.4 s + 4 s), not at its deadline (8.4 s).
    assert 4.3 <= gave_up < 6.0


async def test_a_check_the_browser_is_still_starting_for_is_not_run(
        tmp_path: Path) -> None:
    _require_browser()
    # A cold pool and a 1 s timeout: the check must find the browser up at once.
    pool = BrowserPool(BrowserConfig(screenshot_dir=str(tmp_path)))
    try:
        with pytest.raises(NotRun) as raised:
            await check(target(step("open", "goto", url="http://127.0.0.1/"), timeout=1.0),
                        ProbeContext(browsers=pool))
    finally:
        await pool.aclose()
    assert (raised.value.reason, raised.value.message) == (
        "browser_busy", "the shared browser was still starting")


async def test_degraded_when_slower_than_the_latency_threshold(
        site: PageSite, ctx: ProbeContext) -> None:
    result = await check(target(step("open", "goto", url=site.page("/ok")),
                                latency_seconds=0.000_001), ctx)
    assert (result.success, result.degraded, result.result_label) == (True, True, "degraded")


async def test_screenshots_are_bounded(site: PageSite, shared_pool: BrowserPool,
                                       tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    old = [shots / f"web-transfer-2020010{i}T000000Z.png" for i in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"old")
    (shots / "notes.txt").write_text("kept")
    shared_pool.configure(BrowserConfig(screenshot_dir=str(shots), max_screenshots=2))
    ctx = ProbeContext(browsers=shared_pool)
    result = await check(target(step("open", "goto", url=site.page("/no-button")),
                                step("button", "wait_for", selector="#transfer",
                                     timeout_seconds=0.3)), ctx)
    new = Path(result.details["screenshot"])
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        [old[2].name, new.name, "notes.txt"])


async def test_a_killed_browser_is_relaunched(site: PageSite, ctx: ProbeContext) -> None:
    pool = ctx.browsers
    t = target(step("open", "goto", url=site.page("/ok")))
    assert (await check(t, ctx)).success
    launches, pid = pool.launches, pool._browser_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):  # the driver notices the lost pipe
        if pool._browser is None:
            break
        await asyncio.sleep(0.05)
    result = await check(t, ctx)
    assert result.success, result.message
    assert pool.launches == launches + 1


async def test_a_slow_close_does_not_kill_the_browser_under_other_checks(
        site: PageSite, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ctx.browsers
    assert (await check(target(step("open", "goto", url=site.page("/ok"))), ctx)).success
    launches = pool.launches
    # No time at all to close past the deadline: the hung page's close is always "slow".
    monkeypatch.setattr(browser_pool, "CLOSE_SECONDS", 0.0)
    hung = target(step("open", "goto", url=site.page("/busy")), timeout=2.0, name="hung")
    later = target(step("open", "goto", url=site.page("/late")),
                   step("late", "wait_for", selector="#late"), timeout=10.0, name="later")
    hung_result, later_result = await asyncio.gather(check(hung, ctx), check(later, ctx))
    assert hung_result.reason == "timeout"
    assert later_result.success, later_result.message
    await _drain(pool)
    assert pool.launches == launches
    assert pool._browser is not None
    assert pool._browser.is_connected()


async def test_a_browser_that_stops_answering_is_killed_and_checks_retried(
        site: PageSite, ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ctx.browsers
    assert (await check(target(step("open", "goto", url=site.page("/ok"))), ctx)).success
    launches, pid = pool.launches, pool._browser_pid
    assert pid is not None
    monkeypatch.setattr(browser_pool, "CLOSE_SECONDS", 0.0)
    monkeypatch.setattr(browser_pool, "ANSWER_SECONDS", 0.5)
    hanging = target(step("open", "goto", url=site.page("/no-button")),
                     step("button", "wait_for", selector="#transfer"), timeout=3.0,
                     name="hanging")
    # Opened before the browser hangs, on its page when the browser is killed.
    other = target(step("open", "goto", url=site.page("/late")),
                   step("late", "wait_for", selector="#late"), timeout=20.0, name="other")

    async def hang_browser() -> None:
        for _ in range(1000):  # until both checks have their page
            if pool.pages_open == 2:
                break
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGSTOP)  # the browser process stops answering

    try:
        hung, retried, _ = await asyncio.gather(check(hanging, ctx), check(other, ctx),
                                                hang_browser())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert hung.reason == "timeout", (hung.message, hung.steps)
    # The other check's browser died under it: it ran again, on a new browser.
    assert retried.success, retried.message
    assert pool.launches == launches + 1
    assert not _alive(pid)


async def test_a_hung_browser_without_a_known_pid_is_ended_through_its_driver(
        site: PageSite, ctx: ProbeContext) -> None:
    pool = ctx.browsers
    assert (await check(target(step("open", "goto", url=site.page("/ok"))), ctx)).success
    browser, pid = pool._browser, pool._browser_pid
    assert browser is not None
    assert pid is not None
    pool._browser_pid = None  # as when the CDP query failed at launch
    pool._kill(browser)
    await _drain(pool)
    for _ in range(100):
        if not _alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not _alive(pid)
    assert pool._playwright is None
    after = await check(target(step("open", "goto", url=site.page("/ok"))), ctx)
    assert after.success, after.message


async def test_a_cancelled_check_still_closes_its_context(
        site: PageSite, ctx: ProbeContext) -> None:
    pool = ctx.browsers
    assert (await check(target(step("open", "goto", url=site.page("/ok"))), ctx)).success
    browser = pool._browser
    assert browser is not None
    opened: list[Page] = []
    holding = asyncio.Event()

    async def hold() -> None:
        deadline = asyncio.get_running_loop().time() + 10.0
        async with pool.page(viewport=(800, 600), ignore_https_errors=False,
                             deadline=deadline) as page:
            opened.append(page)
            holding.set()
            await asyncio.Event().wait()

    # Cancelled while it holds the page (the close starts in a cancelled task) ...
    task = asyncio.ensure_future(hold())
    await holding.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # ... and cancelled while the close itself runs.
    context = await browser.new_context()
    closing = asyncio.ensure_future(pool._close_context(context, browser, 0.0))
    await asyncio.sleep(0)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    await _drain(pool)
    assert opened[0].is_closed()
    assert browser.contexts == []
    assert browser.is_connected()


async def _drain(pool: BrowserPool) -> None:
    """Wait for the pool's background closes and stops."""
    while pool._background:
        await asyncio.gather(*pool._background, return_exceptions=True)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_missing_executable_is_a_browser_error_saying_how_to_fix() -> None:
    pool = BrowserPool(BrowserConfig(executable="/nowhere/chromium"))
    try:
        result = await check(target(step("open", "goto", url="http://127.0.0.1/")),
                             ProbeContext(browsers=pool))
    finally:
        await pool.aclose()
    assert result.reason == "browser_error"
    if importlib.util.find_spec("playwright") is not None:
        assert result.message == ("browser /nowhere/chromium not found: apt-get install "
                                  "chromium, or set browser.executable")


async def test_monitor_starts_the_browser_with_browser_targets_and_closes_it(
        site: PageSite, tmp_path: Path) -> None:
    _require_browser()
    t = dataclasses.replace(target(step("open", "goto", url=site.page("/ok"))),
                            interval_seconds=3600.0)
    config = Config(channels=(Channel(name="website", targets=(t,)),),
                    browser=BrowserConfig(screenshot_dir=str(tmp_path), max_concurrency=1))
    monitor = Monitor(config)
    pool = monitor.ctx.browsers
    monitor.start()
    try:
        assert pool.config.max_concurrency == 1
        await pool.start()  # already launching: the same launch
        assert pool.launches == 1
        result = await monitor.probe_now(t.name)
        assert result is not None
        assert result.success, result.message
    finally:
        await monitor.stop()
    assert pool._browser is None
    assert pool._playwright is None


async def test_reload_restarts_the_browser_only_for_a_new_executable(
        site: PageSite, ctx: ProbeContext, tmp_path: Path) -> None:
    pool = ctx.browsers
    t = target(step("open", "goto", url=site.page("/ok")))
    assert (await check(t, ctx)).success
    launches = pool.launches
    pool.configure(BrowserConfig(screenshot_dir=str(tmp_path), max_concurrency=3))
    assert (await check(t, ctx)).success
    assert pool.launches == launches
    # The same binary by another path is another executable to the pool.
    other = str(Path(CHROMIUM).parent / ".." / "bin" / Path(CHROMIUM).name)
    pool.configure(BrowserConfig(executable=other, screenshot_dir=str(tmp_path)))
    try:
        result = await check(t, ctx)
    finally:
        pool.configure(BrowserConfig(screenshot_dir=str(tmp_path)))
    assert result.success, result.message
    assert pool.launches == launches + 1
