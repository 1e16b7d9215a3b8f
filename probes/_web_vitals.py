"""The page-side JavaScript of the browser probe's measurements (issue 10).

Navigation timing and First Contentful Paint are buffered by the browser and can be read
at any time; Largest Contentful Paint and layout shifts are only reported to a
``PerformanceObserver``, so :data:`INIT_SCRIPT` runs in every document before the page's
own scripts and keeps what it observes on ``window``, where :data:`READ_SCRIPT` finds it.
Times are milliseconds from the navigation's start on the page side, seconds here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# The global the init script writes; named so that no page collides with it by chance.
_STATE: Final = "__omniwatchVitals"

# CLS as web-vitals defines it: the largest session window of layout shifts (shifts less
# than 1 s apart, a window at most 5 s long), not counting shifts right after user input.
INIT_SCRIPT: Final = """
(() => {
  if (window.__STATE__) return;
  const v = window.__STATE__ = {lcp: null, cls: null};
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) v.lcp = e.renderTime || e.loadTime || e.startTime;
    }).observe({type: 'largest-contentful-paint', buffered: true});
  } catch (e) {}
  try {
    let value = 0, first = 0, last = 0;
    v.cls = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.hadRecentInput) continue;
        if (value && e.startTime - last < 1000 && e.startTime - first < 5000) {
          value += e.value;
        } else {
          value = e.value;
          first = e.startTime;
        }
        last = e.startTime;
        if (value > v.cls) v.cls = value;
      }
    }).observe({type: 'layout-shift', buffered: true});
  } catch (e) {}
})();
""".replace("__STATE__", _STATE)

# Only what the page exposed: a timing the browser did not (yet) record is left out.
READ_SCRIPT: Final = """
() => {
  const out = {};
  const nav = performance.getEntriesByType('navigation')[0];
  if (nav) {
    if (nav.responseStart > 0) out.ttfb_seconds = nav.responseStart / 1000;
    if (nav.domContentLoadedEventEnd > 0)
      out.dom_content_loaded_seconds = nav.domContentLoadedEventEnd / 1000;
    if (nav.loadEventEnd > 0) out.load_seconds = nav.loadEventEnd / 1000;
  }
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  if (fcp) out.fcp_seconds = fcp.startTime / 1000;
  const v = window.__STATE__;
  if (v && v.lcp !== null) out.lcp_seconds = v.lcp / 1000;
  if (v && v.cls !== null) out.cls = v.cls;
  return out;
}
""".replace("__STATE__", _STATE)

MEASUREMENTS: Final = ("ttfb_seconds", "fcp_seconds", "lcp_seconds", "cls",
                       "dom_content_loaded_seconds", "load_seconds")


def measurements(raw: object) -> dict[str, float]:
    """The known, finite, non-negative numbers of what :data:`READ_SCRIPT` returned.

    The page could overwrite the global the init script keeps: nothing it returns is
    trusted beyond being a number under a known name.
    """
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, float] = {}
    for name in MEASUREMENTS:
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if 0.0 <= number < float("inf"):
                out[name] = number
    return out
