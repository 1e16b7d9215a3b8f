"""Alerting's store methods while PostgreSQL is down: StoreDown, never a driver error, and
everything works again once the server is back (a private server this test stops)."""

from __future__ import annotations

import pytest

from monitor.store.connection import StoreDown
from monitor.store.postgres import PostgresProbeStore
from tests.pgserver import PgServer, pg_server
from tests.procs import wait_for
from tests.store.test_alert_store import NOW, every_method, note

__all__ = ["pg_server"]


def test_every_method_raises_store_down_and_recovers(pg_server: PgServer) -> None:
    store = PostgresProbeStore(pg_server.dsn, clock=lambda: NOW)
    try:
        calls = every_method(store)
        for call in calls.values():
            call()
        assert store.acquire_lease("alerts", "me", 15, NOW) is True

        pg_server.stop()
        # The first call finds the connection gone, the next ones fail to reconnect or
        # wait out the backoff: each way, the caller sees StoreDown and nothing else.
        for _ in range(2):
            for name, call in calls.items():
                with pytest.raises(StoreDown) as caught:
                    call()
                assert caught.value.error in ("connection", "database"), name

        pg_server.start()

        def back() -> bool:
            try:
                store.outbox_counts()
            except StoreDown:
                return False
            return True

        wait_for(back, timeout=60)  # the backoff doubles up to 30 s between tries
        for call in calls.values():
            call()
        assert store.outbox_counts()["pending"] == 1
        [entry] = store.pending_notifications("slack")
        assert entry.notification == note(1)
        assert store.acquire_lease("alerts", "me", 15, NOW) is True  # still ours
    finally:
        store.close()

    # Down at start: a lazy store opens nothing, so the first use says StoreDown...
    pg_server.stop()
    lazy = PostgresProbeStore(pg_server.dsn, lazy=True, clock=lambda: NOW)
    try:
        with pytest.raises(StoreDown):
            lazy.load_engine_state()
        pg_server.start()
        lazy._link.retry_now()  # skip the backoff's wait (tested above)
        # ...and once it is up, what was saved before is there.
        assert list(lazy.load_engine_state().alerts) == ["fp00001"]
        assert lazy.acquire_lease("alerts", "other", 15, NOW + 1) is False
    finally:
        lazy.close()
