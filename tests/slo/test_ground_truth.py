"""Ground truth: a real local target down for a known share of probes, end to end.

Real HTTP probes against a real server on port 0, recorded in the real store, evaluated
by the SLO math: the SLI must match the known share within 0.01 percentage points.
"""

from __future__ import annotations

import time

from aiohttp import web

from monitor.config.model import HttpSpec, Target
from monitor.slo.budget import SloSpec, evaluate, month_start
from probes.context import ProbeContext
from probes.http import probe
from tests.stores import StoreFactory

PROBES = 400
DOWN_EVERY = 16  # 25 of 400 requests answer 503: SLI 93.75%


async def test_sli_matches_a_known_down_share(make_store: StoreFactory) -> None:
    served = 0

    async def health(_: web.Request) -> web.Response:
        nonlocal served
        served += 1
        return web.Response(status=503 if served % DOWN_EVERY == 0 else 200, text="ok")

    app = web.Application()
    app.router.add_get("/health", health)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    store = make_store()
    try:
        target = Target(
            name="app-api",
            channel="app",
            kind="http",
            spec=HttpSpec(url=f"http://127.0.0.1:{port}/health"),
        )
        ctx = ProbeContext()
        for _ in range(PROBES):
            result = await probe(target, ctx)
            store.record("app", "app-api", result, excluded=False)
        store.flush()
    finally:
        await runner.cleanup()

    now = time.time() + 1
    spec = SloSpec("app", objective=0.9)
    counts = store.window_counts("channel", spec.windows, now, month_from=month_start(now))
    status = evaluate(spec, counts["app"], now)
    expected = 1 - (PROBES // DOWN_EVERY) / PROBES
    sli = status.availability.sli["1h"]
    assert sli is not None
    assert abs(sli - expected) * 100 < 0.01
    assert counts["app"]["1h"].total == PROBES
    incidents = store.incidents(now - 3600, now)
    assert len(incidents) == PROBES // DOWN_EVERY
    assert {i.reason for i in incidents} == {"http_status"}
