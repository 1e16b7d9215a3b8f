"""``omniwatch run`` exports a certificate's expiry even when the http probe rejects it:
an expired or untrusted certificate is exactly when on-call needs the date."""

from __future__ import annotations

import datetime as dt
import signal
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.procs import OmniwatchProcess, wait_for
from tests.servers import Pki


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def https_server(context: ssl.SSLContext) -> Iterator[int]:
    """A threaded HTTPS server (the monitor under test is another process); yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_rejected_certificates_export_their_expiry(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    in_40_days = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=40)
    with https_server(pki.server_context(expired=True)) as expired, \
            https_server(pki.server_context(not_after=in_40_days)) as untrusted:
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
