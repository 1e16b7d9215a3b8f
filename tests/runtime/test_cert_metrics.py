"""``omniwatch run`` exports a certificate's expiry even when the http probe rejects it:
an expired or untrusted certificate is exactly when on-call needs the date."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

from tests.procs import OmniwatchProcess, http_target_server, wait_for
from tests.servers import Pki


def test_rejected_certificates_export_their_expiry(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    in_40_days = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=40)
    with http_target_server(pki.server_context(expired=True)) as expired, \
            http_target_server(pki.server_context(not_after=in_40_days)) as untrusted:
        cfg = tmp_path / "omniwatch.yaml"
        cfg.write_text(
            "store: {sqlite: omniwatch.db}\n"
            "defaults: {interval: 1s, timeout: 800ms}\n"
            "channels:\n  website:\n    targets:\n"
            f"      - {{name: expired, probe: http, url: 'https://127.0.0.1:{expired}/',"
            f" tls: {{ca_file: '{pki.ca_file}'}}}}\n"
            f"      - {{name: untrusted, probe: http, url: 'https://127.0.0.1:{untrusted}/'}}\n")
        proc = OmniwatchProcess(cfg)
        try:
            def expiries() -> dict[str, float] | None:
                got = {dict(labels)["target"]: value
                       for (name, labels), value in proc.samples().items()
                       if name == "omniwatch_tls_cert_expiry_timestamp_seconds"}
                return got if len(got) == 2 else None

            found = wait_for(expiries)
            samples = proc.samples()
        finally:
            proc.stop(signal.SIGKILL)
    assert isinstance(found, dict)
    assert found["untrusted"] == in_40_days.timestamp()
    assert found["expired"] < dt.datetime.now(dt.UTC).timestamp()
    for name in ("expired", "untrusted"):
        labels = frozenset({("channel", "website"), ("target", name)})
        assert samples[("omniwatch_probe_success", labels)] == 0
        failures = [v for (n, lbl), v in samples.items() if n == "omniwatch_probes_total"
                    and ("target", name) in lbl and ("reason", "tls") in lbl]
        assert failures
        assert failures[0] >= 1
