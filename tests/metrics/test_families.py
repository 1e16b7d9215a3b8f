"""The families a running ``omniwatch run`` exports, scraped from the real process: the
error budget in seconds (and its deprecated minutes twin), the standard ``process_*``
families, and probe-duration buckets that resolve LAN probes."""

from __future__ import annotations

import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.procs import OmniwatchProcess, http_target_server, wait_for


@pytest.fixture
def running(tmp_path: Path) -> Iterator[OmniwatchProcess]:
    with http_target_server() as port:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(
            "store: {sqlite: omniwatch.db, flush_interval: 1s}\n"
            "defaults: {interval: 1s, timeout: 800ms}\n"
            "channels:\n  app:\n    targets:\n"
            f"      - {{name: app-ok, probe: http, url: 'http://127.0.0.1:{port}/ok'}}\n")
        proc = OmniwatchProcess(cfg)
        try:
            yield proc
        finally:
            proc.stop(signal.SIGKILL)


def scrape(proc: OmniwatchProcess) -> str:
    with urllib.request.urlopen(proc.url("/metrics"), timeout=10) as r:
        return str(r.read().decode())


def test_budget_seconds_process_families_and_buckets(running: OmniwatchProcess) -> None:
    def budget_known() -> str | None:
        text = scrape(running)
        families = {f.name: f for f in text_string_to_metric_families(text)}
        fam = families.get("omniwatch_error_budget_remaining_seconds")
        if fam is None or not fam.samples or fam.samples[0].value != fam.samples[0].value:
            return None  # NaN until the first flush
        return text

    text = str(wait_for(budget_known))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    seconds = {s.labels["slo"]: s.value
               for s in families["omniwatch_error_budget_remaining_seconds"].samples}
    minutes = {s.labels["slo"]: s.value
               for s in families["omniwatch_error_budget_remaining_minutes"].samples}
    # 99.9% over 30 days with every probe good: all 43.2 minutes are left.
    assert seconds["app"] == pytest.approx(43.2 * 60)
    assert seconds["app"] == pytest.approx(minutes["app"] * 60)
    deprecated = families["omniwatch_error_budget_remaining_minutes"].documentation
    assert deprecated.startswith("DEPRECATED")
    assert "omniwatch_error_budget_remaining_seconds" in deprecated

    for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds", "python_info"):
        assert name in families, name
    assert len(families["process_start_time_seconds"].samples) == 1

    bounds = {s.labels["le"] for s in families["omniwatch_probe_duration_seconds"].samples
              if s.name.endswith("_bucket")}
    assert {"0.001", "0.0025", "0.005", "0.8"} <= bounds
    help_text = families["omniwatch_probe_duration_seconds"].documentation
    assert "sum of its phases" in help_text
