"""The ``browser`` probe: a real page in headless Chromium, step by step (issue 10).

The check takes a page from the shared :class:`~probes._browser_pool.BrowserPool` (a
fresh context: nothing carried over from other checks), runs the target's steps in order,
reads the page's timings, and on failure keeps a screenshot.  One deadline,
``target.timeout_seconds``, covers all of it, waiting for a page slot included; a step's
own ``timeout_seconds`` can only shorten its share.  A check that has no page slot (or no
running browser) by :func:`~probes._browser_pool.start_by` (half its timeout, at least
1 s, before its deadline) is not run: it raises :class:`~probes.result.NotRun`
(``browser_busy``), because a failure would blame the website for omniwatch's capacity.

Steps (:data:`monitor.config.model.BROWSER_ACTIONS`):

``goto``                      load ``url`` until the ``load`` event; a main document
                              answering >= 400 fails ``http_status``.
``click``, ``fill``           act on the first element matching ``selector``; ``fill``'s
                              ``value`` takes ``{{ name }}`` from ``vars`` (a secret: it
                              is never in a message).
``wait_for``                  until ``selector`` (or ``text``) is visible.
``expect_text``               ``text`` is in ``selector``'s text, else in the page body.
``expect_no_console_errors``  no ``console.error`` and no uncaught exception since the
                              page opened.  Chromium's own "Failed to load resource"
                              lines are left to ``expect_requests_ok``: each reason
                              means one thing.
``expect_requests_ok``        no sub-resource failed (aborted ones excepted: a page that
                              navigates away cancels them) and none answered >= 400.

Failure reasons (see :mod:`probes.result`); the first failing step decides, later ones
are reported skipped, ``details["step"]`` names it and the message starts with it
(``step wait_for: #transfer not visible within 5s``):

``timeout``          a step's (or the check's) deadline passed (or, on a retry, no page
                     was free).
``dns``, ``connect_refused``, ``connect_error``, ``tls``, ``protocol``
                     the navigation failed (Chromium's ``net::ERR_*``).
``http_status``      the main document answered >= 400.
``body_mismatch``    ``expect_text`` did not find its text.
``console_error``    the page logged an error or threw: the message counts them and
                     says where the first came from (``2 console errors, first at
                     /static/app.js:12``), never their text, which may echo a secret.
``request_failed``   a sub-resource failed: the message names the first one, its URL
                     without the query string (``GET /static/app.js 404``).
``browser_error``    the browser could not start, crashed, or refused the step.  A check
                     the shared browser died under (killed for another check's sake,
                     or crashed) runs once more on a new browser if it has
                     :data:`_RETRY_MIN_SECONDS` left.

Measurements (:attr:`ProbeResult.measurements`) are read from the page where the steps
left it, failed or not: ``ttfb_seconds``, ``fcp_seconds``, ``lcp_seconds``, ``cls``,
``dom_content_loaded_seconds``, ``load_seconds``, those the page exposed (see
:mod:`probes._web_vitals`).

``duration_seconds`` is the wall time of the steps, from a ready page: starting the
shared browser and waiting for a slot are omniwatch's cost, and must not make the first
check of a process look slow.  A failed check keeps a full-page screenshot in
``browser.screenshot_dir`` (``details["screenshot"]``), the oldest deleted beyond
``browser.max_screenshots``; the steps stop short of the deadline by
:func:`screenshot_reserve_seconds` so that a check that ran out of time keeps one too.
Screenshots show whatever the page shows: browser checks must log in with test accounts
only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from monitor.config import template
from monitor.config.model import BrowserConfig, BrowserSpec, BrowserStep, Target
from probes import _web_vitals
from probes._browser_pool import BrowserUnavailable, start_by
from probes.context import ProbeContext
from probes.result import (
    REASON_BODY_MISMATCH,
    REASON_BROWSER,
    REASON_CONNECT_ERROR,
    REASON_CONNECT_REFUSED,
    REASON_CONSOLE_ERROR,
    REASON_DNS,
    REASON_HTTP_STATUS,
    REASON_OK,
    REASON_PROTOCOL,
    REASON_REQUEST_FAILED,
    REASON_TIMEOUT,
    REASON_TLS,
    ProbeResult,
    StepResult,
    failure,
)

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page, Request, Response

log = logging.getLogger("omniwatch.browser")

SKIPPED: Final = "skipped"
# Reading timings and taking a screenshot are bounded so that a hung page still leaves
# time to close its context within the deadline's margin.
_MEASURE_SECONDS: Final = 1.0
_SCREENSHOT_SECONDS: Final = 3.0
_MIN_LEFT_SECONDS: Final = 0.05
# A hung page gives no answer: waiting for the page's pending events is bounded.
_FLUSH_SECONDS: Final = 1.0
# Kept for the screenshot at the end of a check's time: min(1 s, 10% of the timeout).
_SCREENSHOT_RESERVE_SECONDS: Final = 1.0
_SCREENSHOT_RESERVE_RATIO: Final = 0.1
# A check the browser died under is retried only with this much of its time left.
_RETRY_MIN_SECONDS: Final = 1.0
_MESSAGE_CHARS: Final = 160

_NET_ERROR = re.compile(r"net::(ERR_[A-Z0-9_]+)")
_SCREENSHOT_NAME = re.compile(r"-\d{8}T\d{6}Z\.png$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# A V8 stack frame, "at fn (https://host/app.js:12:5)" or "at https://host/app.js:12:5".
_STACK_FRAME = re.compile(r"^\s*at (?:.*?\()?((?:https?|file)://[^\s()]+?):(\d+):\d+\)?\s*$",
                          re.MULTILINE)
# An error's name is shown only if it looks like one (TypeError, DOMException): a page can
# throw any object, with any "name".
_ERROR_NAME = re.compile(r"(?:[A-Z][A-Za-z]{0,40})?(?:Error|Exception)")


class StepFailed(Exception):
    """A step did not meet its expectation (internal: becomes a failed StepResult)."""

    def __init__(self, reason: str, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status_code = status_code


@dataclasses.dataclass
class Tally:
    """How often something happened and where it happened first: a noisy page (a console
    error every millisecond) must cost a counter, not memory and event-loop time."""

    count: int = 0
    first: str = ""

    def add(self, describe: Callable[[], str]) -> None:
        if self.count == 0:
            self.first = describe()
        self.count += 1


@dataclasses.dataclass
class PageEvents:
    """What the page did since it opened: error lines, uncaught errors and failed
    sub-resources, each counted with its first occurrence.

    Only *where* an error came from is kept (``/static/app.js:12``), never its text: a
    page may log what was typed, and a ``fill`` value is a secret.

    Not slotted: Playwright keeps its wrapper of a bound-method handler on the instance.
    """

    console_errors: Tally = dataclasses.field(default_factory=Tally)
    uncaught_errors: Tally = dataclasses.field(default_factory=Tally)
    failed_requests: Tally = dataclasses.field(default_factory=Tally)
    origin: str = ""

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.add(lambda: self._console_source(message))

    def _console_source(self, message: ConsoleMessage) -> str:
        # Playwright renamed lineNumber to line (1.5x); both count from 0, stack traces
        # and editors from 1.
        location: Mapping[str, object] = dict(message.location)
        url = location.get("url")
        line = location.get("line", location.get("lineNumber"))
        if not isinstance(url, str) or not url:
            return ""
        return self.short_url(url) + (f":{line + 1}" if isinstance(line, int) else "")

    def _page_error(self, error: Exception) -> None:
        self.uncaught_errors.add(lambda: self._error_source(error))

    def _error_source(self, error: Exception) -> str:
        name = getattr(error, "name", "")
        kind = name if isinstance(name, str) and _ERROR_NAME.fullmatch(name) else "error"
        where = ""
        stack = getattr(error, "stack", "")
        # Only the "at" frames: the stack's first line repeats the error's message.
        for match in _STACK_FRAME.finditer(stack if isinstance(stack, str) else ""):
            where = f"{self.short_url(match.group(1))}:{match.group(2)}"
            break
        return f"{where} ({kind})" if where else f"({kind})"

    def _request_failed(self, request: Request) -> None:
        error = request.failure or "failed"
        if "ERR_ABORTED" not in error:
            self.failed_requests.add(
                lambda: f"{request.method} {self.short_url(request.url)} {_short(error)}")

    def _response(self, response: Response) -> None:
        request = response.request
        if response.status >= 400 and not _main_document(request):
            self.failed_requests.add(
                lambda: f"{request.method} {self.short_url(response.url)} {response.status}")

    def short_url(self, url: str) -> str:
        """``url`` without query or fragment (they may carry tokens); the path alone
        when it is on the page's origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return (parts.path or "/") if origin == self.origin else f"{origin}{parts.path}"

    def console_message(self) -> str:
        """``2 console errors, first at /static/app.js:12; 1 uncaught error, first at
        /static/app.js:3 (TypeError)``, or "" if the page had none."""
        parts = []
        for tally, what in ((self.console_errors, "console error"),
                            (self.uncaught_errors, "uncaught error")):
            if tally.count:
                plural = "s" if tally.count > 1 else ""
                first = tally.first
                at = (f", first {first}" if first.startswith("(")
                      else f", first at {first}" if first else "")
                parts.append(f"{tally.count} {what}{plural}{at}")
        return "; ".join(parts)


def _main_document(request: Request) -> bool:
    """The page's own document (its status is the ``goto`` step's business)."""
    if not request.is_navigation_request():
        return False
    try:
        return request.frame.parent_frame is None
    except Exception:  # a service worker's request has no frame
        return False


async def probe(target: Target, ctx: ProbeContext) -> ProbeResult:
    """Run ``target``'s browser steps; see the module doc."""
    spec = target.spec
    assert isinstance(spec, BrowserSpec)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + target.timeout_seconds
    pool = ctx.browsers
    retried = False
    while True:
        try:
            # A retry waits until the deadline: the first attempt did start, and a failure
            # then is the browser's, which the check reports.
            async with pool.page(viewport=spec.viewport,
                                 ignore_https_errors=spec.ignore_https_errors,
                                 deadline=deadline,
                                 start_by=None if retried else start_by(
                                     deadline, target.timeout_seconds)) as page:
                result = await _check(target, spec, page, pool.config, deadline)
                browser = page.context.browser
                died = result.reason != REASON_OK and (browser is None
                                                       or not browser.is_connected())
        except BrowserUnavailable as exc:
            return failure(REASON_BROWSER, str(exc), 0.0)
        except TimeoutError as exc:
            return failure(REASON_TIMEOUT, f"{exc} within {target.timeout_seconds:g}s", 0.0)
        if not died:
            return result
        # The shared browser went away under the check (killed because another check hung
        # it, or crashed): that says nothing about this target, so it gets one more go on
        # the relaunched browser if its time allows.
        if not retried and deadline - loop.time() >= _RETRY_MIN_SECONDS:
            log.info("browser_check_retried", extra={"target": target.name})
            retried = True
            continue
        step = result.details.get("step", "")
        return failure(REASON_BROWSER, f"step {step}: the browser stopped during the check",
                       result.duration_seconds, status_code=result.status_code,
                       details=result.details, steps=result.steps,
                       measurements=result.measurements)


def screenshot_reserve_seconds(timeout_seconds: float) -> float:
    """The end of a check's time kept for its screenshot: a step without a timeout of its
    own would otherwise use it all, and the failure that most needs a picture (a page that
    never got there) would have none."""
    return min(_SCREENSHOT_RESERVE_SECONDS, timeout_seconds * _SCREENSHOT_RESERVE_RATIO)


async def _check(target: Target, spec: BrowserSpec, page: Page, config: BrowserConfig,
                 deadline: float) -> ProbeResult:
    loop = asyncio.get_running_loop()
    events = PageEvents()
    events.attach(page)
    values = dict(spec.vars)
    steps: list[StepResult] = []
    failed: tuple[BrowserStep, StepFailed] | None = None
    reserve = screenshot_reserve_seconds(target.timeout_seconds)
    steps_deadline = deadline - reserve
    started = loop.time()
    for step in spec.steps:
        if failed is not None:
            steps.append(StepResult(step.name, False, SKIPPED, 0.0, skipped=True))
            continue
        step_started = loop.time()
        status: int | None = None
        try:
            status = await _run_step(step, page, events, values, steps_deadline)
        except StepFailed as error:
            failed = (step, error)
            steps.append(StepResult(step.name, False, error.reason, loop.time() - step_started,
                                    message=error.message, status_code=error.status_code))
            continue
        steps.append(StepResult(step.name, True, REASON_OK, loop.time() - step_started,
                                status_code=status))
    duration = loop.time() - started
    # Timings may take half of the screenshot's reserve, never all of it.
    measurements = await _measure(page, deadline if failed is None else deadline - reserve / 2)
    status_code = next((s.status_code for s in reversed(steps) if s.status_code), None)
    if failed is None:
        threshold = target.latency_threshold_seconds
        return ProbeResult(success=True, reason=REASON_OK, duration_seconds=duration,
                           degraded=threshold is not None and duration > threshold,
                           status_code=status_code, steps=tuple(steps),
                           measurements=measurements)
    failed_step, cause = failed
    details = {"step": failed_step.name}
    screenshot = await _screenshot(page, target.name, config, deadline)
    if screenshot is not None:
        details["screenshot"] = screenshot
    return failure(cause.reason, f"step {failed_step.name}: {cause.message}", duration,
                   status_code=status_code, details=details, steps=tuple(steps),
                   measurements=measurements)


async def _run_step(step: BrowserStep, page: Page, events: PageEvents,
                    values: dict[str, str], deadline: float) -> int | None:
    """Run one step; returns the main document's status for ``goto``.

    Raises :class:`StepFailed` for every way the step can fail.
    """
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    timeout = min(step.timeout_seconds or remaining, remaining)
    if timeout <= 0:
        raise StepFailed(REASON_TIMEOUT, "no time left")
    try:
        # Playwright's own timeout fires first with the step's; the deadline is the net
        # under it (0 would mean "no timeout" to Playwright: never pass it).
        async with asyncio.timeout_at(deadline):
            return await _act(step, page, events, values, max(timeout * 1000, 1.0))
    except (PlaywrightTimeout, TimeoutError):
        raise StepFailed(REASON_TIMEOUT, f"{_waited_for(step)} within {timeout:.3g}s") from None
    except PlaywrightError as exc:
        raise StepFailed(*_classify(exc)) from None


async def _act(step: BrowserStep, page: Page, events: PageEvents, values: dict[str, str],
               timeout_ms: float) -> int | None:
    action = step.action
    if action == "goto":
        assert step.url is not None
        events.origin = "{0.scheme}://{0.netloc}".format(urlsplit(step.url))
        response = await page.goto(step.url, wait_until="load", timeout=timeout_ms)
        status = None if response is None else response.status
        if status is not None and status >= 400:
            raise StepFailed(REASON_HTTP_STATUS, f"status {status}", status)
        return status
    if action == "click":
        assert step.selector is not None
        await page.click(step.selector, timeout=timeout_ms)
    elif action == "fill":
        assert step.selector is not None
        try:
            value = template.fill(step.value or "", values)
        except KeyError as exc:
            raise StepFailed(REASON_BROWSER, f"variable {exc.args[0]} is not set") from None
        await page.fill(step.selector, value, timeout=timeout_ms)
    elif action == "wait_for":
        if step.selector is not None:
            await page.wait_for_selector(step.selector, state="visible", timeout=timeout_ms)
        else:
            assert step.text is not None
            await page.get_by_text(step.text).first.wait_for(state="visible",
                                                             timeout=timeout_ms)
    elif action == "expect_text":
        assert step.text is not None
        where = step.selector or "body"
        shown = await page.inner_text(where, timeout=timeout_ms)
        if step.text not in shown:
            raise StepFailed(REASON_BODY_MISMATCH, f"{step.text!r} not in {where}")
    elif action == "expect_no_console_errors":
        # An error logged by the previous step (a fill's input handler) may still be on
        # its way: a round trip to the page delivers every event sent before its answer.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(min(timeout_ms / 1000, _FLUSH_SECONDS)):
                await page.evaluate("0")
        errors = events.console_message()
        if errors:
            raise StepFailed(REASON_CONSOLE_ERROR, errors)
    elif action == "expect_requests_ok":
        failed = events.failed_requests
        if failed.count:
            raise StepFailed(REASON_REQUEST_FAILED, failed.first
                             + (f" (and {failed.count - 1} more)" if failed.count > 1 else ""))
    else:  # the schema allows only BROWSER_ACTIONS
        raise StepFailed(REASON_BROWSER, f"unknown action {action}")
    return None


def _waited_for(step: BrowserStep) -> str:
    what = step.selector or (repr(step.text) if step.text else "")
    return {
        "goto": "page not loaded",
        "click": f"{what} not clickable",
        "fill": f"{what} not editable",
        "wait_for": f"{what} not visible",
        "expect_text": f"{what or 'body'} not found",
    }.get(step.action, "not done")


def _classify(exc: Exception) -> tuple[str, str]:
    """A reason and a short message for a Playwright error (never its call log)."""
    text = str(exc)
    match = _NET_ERROR.search(text)
    if match is not None:
        code = match.group(1)
        if code.startswith("ERR_NAME_"):
            return REASON_DNS, code
        if code == "ERR_CONNECTION_REFUSED":
            return REASON_CONNECT_REFUSED, code
        if code.startswith(("ERR_CONNECTION_", "ERR_ADDRESS_", "ERR_NETWORK_",
                            "ERR_INTERNET_")):
            return REASON_CONNECT_ERROR, code
        if code.startswith(("ERR_CERT_", "ERR_SSL_", "ERR_BAD_SSL_")):
            return REASON_TLS, code
        if code == "ERR_TIMED_OUT":
            return REASON_TIMEOUT, code
        return REASON_PROTOCOL, code
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return REASON_BROWSER, _short(first)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_CHARS else line[:_MESSAGE_CHARS - 1] + "…"


async def _measure(page: Page, deadline: float) -> dict[str, float]:
    left = deadline - asyncio.get_running_loop().time()
    # Chromium's own error page (a failed navigation) has timings too, not the site's.
    if left < _MIN_LEFT_SECONDS or not page.url.startswith(("http:", "https:")):
        return {}
    try:
        async with asyncio.timeout(min(left, _MEASURE_SECONDS)):
            raw: Any = await page.evaluate(_web_vitals.READ_SCRIPT)
    except Exception:  # a closed, crashed or hung page has nothing to tell
        return {}
    return _web_vitals.measurements(raw)


def screenshot_name(target: str, now: float) -> str:
    """``<target>-<UTC yyyymmddThhmmssZ>.png``, the target name made safe for a path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{_UNSAFE_NAME.sub('_', target)}-{stamp}.png"


def prune_screenshots(directory: Path, keep: int) -> list[Path]:
    """Delete the oldest screenshots beyond ``keep`` (by the time in their names, then
    name); returns what was deleted.  Other files in the folder are left alone."""
    shots = sorted((p for p in directory.iterdir() if _SCREENSHOT_NAME.search(p.name)),
                   key=lambda p: (p.name[-20:], p.name))
    doomed = shots[:max(len(shots) - keep, 0)]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


async def _screenshot(page: Page, target: str, config: BrowserConfig,
                      deadline: float) -> str | None:
    left = deadline - asyncio.get_running_loop().time()
    if config.max_screenshots <= 0 or left < _MIN_LEFT_SECONDS:
        return None
    directory = Path(config.screenshot_dir)
    path = directory / screenshot_name(target, time.time())
    try:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        async with asyncio.timeout(min(left, _SCREENSHOT_SECONDS)):
            image = await page.screenshot(full_page=True, type="png",
                                          timeout=min(left, _SCREENSHOT_SECONDS) * 1000)
        await asyncio.to_thread(_write_and_prune, path, image, config.max_screenshots)
    except Exception as exc:  # no screenshot is no reason to lose the check's result
        log.warning("browser_screenshot_failed",
                    extra={"target": target, "error": type(exc).__name__})
        return None
    return str(path)


def _write_and_prune(path: Path, image: bytes, keep: int) -> None:
    path.write_bytes(image)
    prune_screenshots(path.parent, keep)
