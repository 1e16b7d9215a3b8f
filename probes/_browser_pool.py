"""The one headless Chromium that every ``browser`` check shares (issue 10).

The pool is created empty with the process's :class:`~probes.context.ProbeContext`. It
launches the browser only when the first ``browser`` check asks for a page (Playwright is
imported then, never before), caps checks with a page open at
``BrowserConfig.max_concurrency``, gives each check a fresh context (no cookies, storage
or cache shared between checks), and is closed once by the runtime at shutdown.

Why one process and fresh contexts: a Chromium costs about a second of CPU and a hundred
MB to start, a context a few milliseconds; a context is as isolated as a new profile.

Bounded at every step, because a probe must never outlive its timeout:

* waiting for a page slot and for the browser to start count against the check's own
  deadline (the launch itself runs in a task of its own, so a check that gives up does
  not leave a half-started browser: the next check gets it).  A check must have both by
  :func:`start_by` (half its timeout, or 1 s, before its deadline, whichever is more):
  past that it could not do its work, and it raises :class:`~probes.result.NotRun`
  (``browser_busy``) instead of failing the target for omniwatch's own capacity;
* closing a check's context may take until :data:`CLOSE_SECONDS` past its deadline (none
  when the check is being cancelled); a close that takes longer goes on in the
  background, for :data:`BACKGROUND_CLOSE_SECONDS` at most, while the browser is asked
  whether it still answers (:data:`ANSWER_SECONDS`).  Only a browser that does not is
  killed (by the process id it reported at launch, else by stopping the Playwright
  driver that launched it), and the next check launches a new one — as after a crash or
  a disconnect.  A slow close is one page's trouble; a kill fails every open check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from monitor.config.model import BrowserConfig
from probes._web_vitals import INIT_SCRIPT
from probes.result import NOT_RUN_BROWSER_BUSY, NotRun

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

log = logging.getLogger("omniwatch.browser")

# Playwright already passes --no-sandbox (its chromium_sandbox defaults to off), which a
# root user in a container needs.  /dev/shm is 64 MB in a default Docker container, too
# small for Chromium's shared memory: use /tmp instead.
LAUNCH_ARGS: Final = ("--disable-dev-shm-usage",)
# A cold Chromium on a busy machine starts in 1-3 s; past this it is not going to.
LAUNCH_SECONDS: Final = 30.0
# Closing a context takes milliseconds (half a second on a busy machine); it may take
# until this long past the check's deadline, inside the runner's one-second guard.
CLOSE_SECONDS: Final = 0.5
# A close still running after this long is abandoned (the browser answered: it is its
# renderer that is stuck, and Chromium reclaims that on its own).
BACKGROUND_CLOSE_SECONDS: Final = 30.0
# A browser answers a CDP call in milliseconds; one that takes this long is hung.
ANSWER_SECONDS: Final = 2.0
# What a check must have left when it gets its page slot and a running browser: this
# share of its timeout, and at least this many seconds.  With less, its steps' timeouts
# would measure the wait, not the website.
START_LEFT_RATIO: Final = 0.5
START_LEFT_SECONDS: Final = 1.0


def start_by(deadline: float, timeout_seconds: float) -> float:
    """When a check with ``timeout_seconds`` ending at ``deadline`` must have its page
    slot and a running browser: ``deadline - max(1 s, 50% of the timeout)``.

    For a timeout of 2 s or less that is at (or before) the check's start: it runs only if
    a slot is free and the browser up at once.
    """
    return deadline - max(START_LEFT_SECONDS, timeout_seconds * START_LEFT_RATIO)


class BrowserUnavailable(Exception):
    """The browser cannot be started; the message names the executable and the fix."""


class BrowserPool:
    """Shared Chromium for ``browser`` checks; see the module doc.

    ``pages_open`` is how many checks hold a page now, ``launches`` how many times a
    browser was started (for metrics and tests).
    """

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self.pages_open = 0
        self.launches = 0
        self._semaphore = asyncio.Semaphore(self.config.max_concurrency)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._browser_pid: int | None = None
        self._launching: asyncio.Task[Browser] | None = None
        self._background: set[asyncio.Task[None]] = set()

    def configure(self, config: BrowserConfig) -> None:
        """Use ``config`` from the next check on (a reload); a running browser is kept
        unless the executable changed."""
        old, self.config = self.config, config
        if config.max_concurrency != old.max_concurrency:
            # Checks holding a slot release it to the semaphore they took it from.
            self._semaphore = asyncio.Semaphore(config.max_concurrency)
        if config.executable != old.executable and self._browser is not None:
            browser, pid = self._browser, self._browser_pid
            self._browser = self._browser_pid = None
            self._spawn(self._close_browser(browser, pid))

    async def aclose(self) -> None:
        """Close the browser, if it was started."""
        if self._launching is not None:
            self._launching.cancel()
            with contextlib.suppress(BaseException):
                await self._launching
        if self._browser is not None:
            browser, pid = self._browser, self._browser_pid
            self._browser = self._browser_pid = None
            await self._close_browser(browser, pid)
        # A background close may kill the browser, which spawns a driver stop: until none.
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._playwright is not None:
            playwright, self._playwright = self._playwright, None
            with contextlib.suppress(Exception):
                async with asyncio.timeout(LAUNCH_SECONDS):
                    await playwright.stop()

    def prepare(self) -> None:
        """Start launching the browser now, in the background, if it is not running.

        A monitor with browser targets calls this when it starts (and after a reload that
        adds one): the launch takes seconds, which its first check would otherwise spend
        from its own timeout.  A failed launch is retried, and reported, by that check.
        """
        if self._launching is None and self._browser is None:
            self._start_launch()

    async def start(self) -> None:
        """Start the browser now and wait for it (``omniwatch probe``, before its first
        check); raises :class:`BrowserUnavailable` when it cannot start."""
        await self._running_browser()

    @contextlib.asynccontextmanager
    async def page(self, *, viewport: tuple[int, int], ignore_https_errors: bool,
                   deadline: float, start_by: float | None = None) -> AsyncIterator[Page]:
        """A new page in a new context, closed on exit; waits for a free slot first.

        ``deadline`` is the check's (``loop.time()``).  With ``start_by`` (see
        :func:`start_by`), a check without a slot and a running browser by then raises
        :class:`~probes.result.NotRun`.  Without it, the wait may last until ``deadline``:
        then it raises ``TimeoutError`` (with a message) if no slot frees up, and
        :class:`BrowserUnavailable` if the browser is still starting.  Either way
        :class:`BrowserUnavailable` if the browser cannot start or fails to open the
        page in time.
        """
        semaphore = self._semaphore
        cutoff = deadline if start_by is None else min(start_by, deadline)
        try:
            # A free slot is taken without waiting, even past the cutoff.
            async with asyncio.timeout_at(cutoff):
                await semaphore.acquire()
        except TimeoutError:
            if start_by is not None:
                raise NotRun(NOT_RUN_BROWSER_BUSY, _slots_busy(self.config.max_concurrency)
                             ) from None
            raise TimeoutError(f"no browser page free (browser.max_concurrency "
                               f"{self.config.max_concurrency})") from None
        try:
            browser, context, page = await self._open(viewport, ignore_https_errors, deadline,
                                                      start_by is not None, cutoff)
            try:
                self.pages_open += 1
                try:
                    yield page
                finally:
                    self.pages_open -= 1
            finally:
                await self._close_context(context, browser, deadline)
        finally:
            semaphore.release()

    async def _open(self, viewport: tuple[int, int], ignore_https_errors: bool,
                    deadline: float, not_run: bool, cutoff: float
                    ) -> tuple[Browser, BrowserContext, Page]:
        try:
            async with asyncio.timeout_at(cutoff):
                browser = await self._running_browser()
        except TimeoutError:
            if not_run:
                raise NotRun(NOT_RUN_BROWSER_BUSY, "the shared browser was still starting"
                             ) from None
            raise BrowserUnavailable("the browser was still starting when the check's "
                                     "time ran out") from None
        try:
            context = await self._new_context(browser, viewport, ignore_https_errors, deadline)
            try:
                async with asyncio.timeout_at(deadline):
                    page = await context.new_page()
            except BaseException:
                await self._close_context(context, browser, deadline)
                raise
        except TimeoutError:
            raise BrowserUnavailable("the browser did not open a page before the check's "
                                     "time ran out") from None
        except Exception as exc:  # crashed or disconnected meanwhile
            raise BrowserUnavailable(f"the browser did not open a page: {_first_line(exc)}"
                                     ) from None
        return browser, context, page

    async def _new_context(self, browser: Browser, viewport: tuple[int, int],
                           ignore_https_errors: bool, deadline: float) -> BrowserContext:
        async def create() -> BrowserContext:
            context = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                ignore_https_errors=ignore_https_errors)
            await context.add_init_script(script=INIT_SCRIPT)
            return context

        # Shielded: a context created after the check gave up is closed, not leaked.
        task = asyncio.ensure_future(create())
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(task)
        except BaseException:
            task.add_done_callback(self._close_orphan)
            raise

    def _close_orphan(self, task: asyncio.Task[BrowserContext]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        self._spawn(self._close_context(task.result(), None, 0.0))

    async def _close_context(self, context: BrowserContext, browser: Browser | None,
                             deadline: float) -> None:
        # A check done early may use the rest of its time: a busy machine can take
        # half a second to close a context.  The close runs in a task of its own so that
        # neither a slow close nor a cancelled check leaks the context.
        closing = asyncio.ensure_future(context.close())
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # The runner's guard (or shutdown) is ending the check: it must end now.
            self._spawn(self._finish_close(closing, browser))
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(max(loop.time(), deadline) + CLOSE_SECONDS):
                await asyncio.shield(closing)
        except TimeoutError:
            log.info("browser_close_slow", extra={"action": "background"})
            self._spawn(self._finish_close(closing, browser))
        except asyncio.CancelledError:
            self._spawn(self._finish_close(closing, browser))
            raise
        except Exception:  # the browser crashed or disconnected meanwhile: nothing to close
            log.debug("browser_context_close_failed", exc_info=True)

    async def _finish_close(self, closing: asyncio.Future[None],
                            browser: Browser | None) -> None:
        """Let a slow close finish; kill the browser only if it no longer answers."""
        try:
            if browser is not None and not await _answers(browser):
                log.warning("browser_hung", extra={"action": "killed"})
                self._kill(browser)
                return
            async with asyncio.timeout(BACKGROUND_CLOSE_SECONDS):
                await asyncio.shield(closing)
        except TimeoutError:
            log.warning("browser_close_abandoned",
                        extra={"seconds": BACKGROUND_CLOSE_SECONDS})
        except Exception:
            log.debug("browser_context_close_failed", exc_info=True)
        finally:
            if not closing.done():
                closing.cancel()
            with contextlib.suppress(BaseException):
                await closing

    async def _running_browser(self) -> Browser:
        browser = self._browser
        if browser is not None and browser.is_connected():
            return browser
        self._browser = self._browser_pid = None
        launching = self._launching or self._start_launch()
        return await asyncio.shield(launching)

    def _start_launch(self) -> asyncio.Task[Browser]:
        launching = asyncio.ensure_future(self._launch(self.config.executable))
        launching.add_done_callback(self._launched)
        self._launching = launching
        return launching

    def _launched(self, task: asyncio.Task[Browser]) -> None:
        if self._launching is task:
            self._launching = None
        # Retrieved here so that a launch every waiter gave up on does not warn.
        if not task.cancelled() and task.exception() is not None:
            log.warning("browser_launch_failed", extra={"error": str(task.exception())})

    async def _launch(self, executable: str) -> Browser:
        try:
            from playwright.async_api import Error as PlaywrightError
            from playwright.async_api import async_playwright
        except ImportError:
            raise BrowserUnavailable("Playwright is not installed: pip install "
                                     "'omniwatch[browser]'") from None
        if not await asyncio.to_thread(os.path.exists, executable):
            raise BrowserUnavailable(f"browser {executable} not found: apt-get install "
                                     "chromium, or set browser.executable")
        try:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            browser = await self._playwright.chromium.launch(
                executable_path=executable, headless=True, args=list(LAUNCH_ARGS),
                timeout=LAUNCH_SECONDS * 1000)
        except PlaywrightError as exc:
            # The driver may be what broke: start a new one with the next launch.
            playwright, self._playwright = self._playwright, None
            if playwright is not None:
                self._spawn(_stop(playwright))
            raise BrowserUnavailable(
                f"browser {executable} did not start ({_first_line(exc)}): check it runs "
                "(apt-get install chromium), or set browser.executable") from None
        self.launches += 1
        self._browser_pid = await _browser_pid(browser)
        self._browser = browser
        browser.on("disconnected", self._disconnected)
        log.info("browser_started", extra={"executable": executable, "version": browser.version})
        return browser

    def _disconnected(self, browser: Browser) -> None:
        # A crash, a kill or a close: the next check launches a new browser.
        if self._browser is browser:
            self._browser = self._browser_pid = None

    def _kill(self, browser: Browser | None) -> None:
        if browser is not None and browser is not self._browser:
            return  # already replaced
        pid, self._browser, self._browser_pid = self._browser_pid, None, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        elif self._playwright is not None:
            # Without its id the browser is reached through the driver that launched it:
            # a stopped driver takes its Chromium down.  The next launch starts a new one.
            playwright, self._playwright = self._playwright, None
            self._spawn(_stop(playwright))

    async def _close_browser(self, browser: Browser, pid: int | None) -> None:
        try:
            async with asyncio.timeout(CLOSE_SECONDS * 4):
                await browser.close()
        except TimeoutError:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        except Exception:
            log.debug("browser_close_failed", exc_info=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _slots_busy(slots: int) -> str:
    return f"the browser's {slots} page slot{'' if slots == 1 else 's'} stayed busy"


def _first_line(exc: BaseException) -> str:
    """An error's first line, short: Playwright appends call logs that quote the page."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


async def _browser_pid(browser: Browser) -> int | None:
    """The browser process's id, for a kill when it hangs (Playwright does not expose it)."""
    try:
        session = await browser.new_browser_cdp_session()
        try:
            info: dict[str, Any] = await session.send("SystemInfo.getProcessInfo")
        finally:
            await session.detach()
    except Exception:
        return None
    for process in info.get("processInfo", ()):
        if process.get("type") == "browser" and isinstance(process.get("id"), int):
            return int(process["id"])
    return None


async def _answers(browser: Browser) -> bool:
    """Whether the browser process still answers a CDP call (its renderers may not)."""
    if not browser.is_connected():
        return False
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            session = await browser.new_browser_cdp_session()
            try:
                await session.send("Browser.getVersion")
            finally:
                await session.detach()
    except Exception:
        return False
    return True


async def _stop(playwright: Playwright) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_SECONDS * 4):
            await playwright.stop()
