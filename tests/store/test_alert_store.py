"""Alerting's durable state (alerts.store.AlertStore), the same tests on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from alerts.config import Matcher
from alerts.model import Alert, AlertSnapshot, Group, Notification, Silence, labelset
from alerts.store import AlertStore, EngineState, StateChange
from monitor.store import schema
from monitor.store.alert_store import SILENCE_RETENTION_SECONDS
from monitor.store.connection import StoreDown
from monitor.store.sql import SqlProbeStore
from probes.result import ProbeResult
from tests.stores import StoreFactory

NOW = 1_795_000_017.25


def alert(i: int, **changes: Any) -> Alert:
    labels = labelset({"alertname": "TargetDown", "channel": "app", "target": f"t{i:05d}"})
    fields: dict[str, Any] = {
        "fingerprint": f"fp{i:05d}", "labels": labels,
        "annotations": (("reason", "timeout"), ("detail", "no answer in 5 s")),
        "status": "firing", "active_since": NOW - 0.1 - i, "updated_at": NOW + 1 / 3,
        "fired_at": NOW - 1e-7, "resolved_at": None}
    fields.update(changes)
    return Alert(**fields)


def group(key: str, **changes: Any) -> Group:
    fields: dict[str, Any] = {
        "route": "slack-app", "key": key, "labels": (("alertname", "TargetDown"),
                                                    ("channel", "app")),
        "created_at": NOW - 30.5, "next_flush_at": NOW + 300.125, "last_notified_at": None,
        "notified": frozenset(), "episode": None, "seq": 0}
    fields.update(changes)
    return Group(**fields)


def note(seq: int, *, created_at: float = NOW, receiver: str = "slack",
         episode: str | None = None, kind: str = "firing") -> Notification:
    nid = f"{receiver}:abcd1234:{seq}"
    return Notification(
        id=nid, receiver=receiver, route="slack-app", group_key="{}:{channel=\"app\"}",
        group_labels=(("channel", "app"),), kind=kind,  # type: ignore[arg-type]
        created_at=created_at, episode=episode or nid,
        alerts=(AlertSnapshot("fp00001", "firing", (("alertname", "TargetDown"),),
                              (("reason", "timeout"),), NOW - 60.5),
                AlertSnapshot("fp00002", "resolved", (("alertname", "TargetDown"),), (),
                              NOW - 120.0, NOW - 0.75)))


def silence(sid: str, starts: float, ends: float, created: float = NOW) -> Silence:
    return Silence(id=sid, matchers=(Matcher("channel", "=", "branch"),
                                     Matcher("severity", "=~", "page|ticket")),
                   starts_at=starts, ends_at=ends, author="ops", reason="maintenance",
                   created_at=created)


def test_the_store_is_an_alert_store(make_store: StoreFactory) -> None:
    store: AlertStore = make_store(clock=lambda: NOW)
    assert store.load_engine_state() == EngineState()
    assert store.outbox_counts() == {"pending": 0, "delivered": 0, "failed": 0}


def test_engine_state_round_trips_exactly(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    alerts = [alert(1), alert(2, status="pending", fired_at=None, annotations=()),
              alert(3, status="resolved", resolved_at=NOW + 0.1 + 0.2)]
    groups = [group("a"), group("b", last_notified_at=NOW - 1 / 7, episode="slack:abcd1234:1",
                                notified=frozenset({"fp00001", "fp00003"}), seq=2 ** 40)]
    store.save_change(StateChange(alerts=alerts, groups=groups))
    state = store.load_engine_state()
    assert state.alerts == {a.fingerprint: a for a in alerts}
    assert state.groups == {(g.route, g.key): g for g in groups}
    got = state.alerts["fp00003"]
    assert type(got.labels) is tuple
    assert all(type(p) is tuple for p in got.labels)
    assert got.resolved_at == NOW + 0.1 + 0.2  # exact, not approximately
    assert type(state.groups[("slack-app", "b")].notified) is frozenset

    # A later change overwrites, removes, and leaves the rest alone.
    updated = alert(1, status="resolved", resolved_at=NOW + 60)
    store.save_change(StateChange(alerts=[updated], removed_alerts=["fp00002"],
                                  groups=[group("a", seq=1)],
                                  removed_groups=[("slack-app", "b")]))
    again = make_store(clock=lambda: NOW).load_engine_state()  # another connection
    assert again.alerts == {"fp00001": updated, "fp00003": alerts[2]}
    assert again.groups == {("slack-app", "a"): group("a", seq=1)}
    store.save_change(StateChange())  # nothing to do: no transaction at all


def test_ten_thousand_alerts_in_one_change(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    alerts = [alert(i) for i in range(10_000)]
    notes = [note(i) for i in range(200)]
    store.save_change(StateChange(alerts=alerts, groups=[group("a")], notifications=notes))
    state = store.load_engine_state()
    assert len(state.alerts) == 10_000
    assert state.alerts["fp09999"] == alerts[-1]
    assert store.outbox_counts()["pending"] == 200
    store.save_change(StateChange(removed_alerts=[a.fingerprint for a in alerts]))
    assert store.load_engine_state().alerts == {}


def test_a_change_is_all_or_nothing(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    # The second group breaks a NOT NULL column: the whole change, alerts included, is lost.
    bad = StateChange(alerts=[alert(1)], groups=[group("a"), group("b", route=None)],
                      notifications=[note(1)])
    with pytest.raises(StoreDown, match=r"(?i)null"):
        store.save_change(bad)
    assert store.load_engine_state() == EngineState()
    assert store.outbox_counts()["pending"] == 0


def test_an_outbox_id_is_inserted_once(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    first = note(1)
    store.save_change(StateChange(notifications=[first]))
    store.record_attempt(first.id, 1, NOW + 5, "http_500")
    # The tick runs again after a crash: same id, even a changed payload; nothing resets.
    store.save_change(StateChange(notifications=[note(1, created_at=NOW + 9, kind="update"),
                                                 note(2)]))
    entries = store.pending_notifications()
    assert [e.notification.id for e in entries] == [first.id, note(2).id]
    [entry] = [e for e in entries if e.notification.id == first.id]
    assert entry.notification == first
    assert (entry.attempts, entry.next_attempt_at, entry.last_error) == (1, NOW + 5, "http_500")
    store.mark_delivered(first.id, NOW + 6, {"channel": "C1", "ts": "1.2"})
    store.save_change(StateChange(notifications=[first]))
    assert store.outbox_counts() == {"pending": 1, "delivered": 1, "failed": 0}


def test_due_notifications_oldest_first(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    notes = [note(3, created_at=NOW - 10), note(1, created_at=NOW - 20),
             note(2, created_at=NOW - 20), note(4, created_at=NOW + 30),
             note(5, created_at=NOW - 30, receiver="webhook")]
    store.save_change(StateChange(notifications=notes))
    ids = [e.notification.id for e in store.due_notifications(NOW)]
    # created_at, then id; the one created in the future is not due yet.
    assert ids == ["webhook:abcd1234:5", "slack:abcd1234:1", "slack:abcd1234:2",
                   "slack:abcd1234:3"]
    assert [e.notification.id for e in store.due_notifications(NOW, limit=2)] == ids[:2]
    # A retry put off to later leaves the order of what is due.
    store.record_attempt("slack:abcd1234:1", 1, NOW + 60, "timeout")
    assert "slack:abcd1234:1" not in [e.notification.id for e in store.due_notifications(NOW)]
    assert [e.notification.id for e in store.due_notifications(NOW + 60)][:3] == ids[:3]
    # Every pending entry of one receiver, due or not, in order.
    assert [e.notification.id for e in store.pending_notifications("slack")] == [
        "slack:abcd1234:1", "slack:abcd1234:2", "slack:abcd1234:3", "slack:abcd1234:4"]
    assert [e.notification.id for e in store.pending_notifications("none")] == []


def test_attempts_delivery_and_failure(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    a, b, c = note(1), note(2), note(3)
    store.save_change(StateChange(notifications=[a, b, c]))
    store.record_attempt(a.id, 1, NOW + 1, None)  # starting
    store.record_attempt(a.id, 1, NOW + 2, "http_503")  # failed, retry later
    store.record_attempt(a.id, 2, NOW + 3, None)  # starting again: the error stays
    [ea] = [e for e in store.pending_notifications() if e.notification.id == a.id]
    assert (ea.state, ea.attempts, ea.next_attempt_at, ea.last_error) == (
        "pending", 2, NOW + 3, "http_503")
    store.mark_delivered(a.id, NOW + 4, {"channel": "C024BE91L", "ts": "1795000021.000200"})
    store.mark_failed(b.id, NOW + 5, "invalid_auth")
    # Once done, later calls change nothing.
    store.record_attempt(a.id, 9, NOW + 9, "late")
    store.mark_failed(a.id, NOW + 9, "late")
    store.mark_delivered(b.id, NOW + 9, {})
    store.record_attempt("no-such-id", 1, NOW, None)
    assert store.outbox_counts() == {"pending": 1, "delivered": 1, "failed": 1}
    assert [e.notification.id for e in store.pending_notifications()] == [c.id]
    assert store.due_notifications(NOW + 100) == store.pending_notifications()
    with store._db_lock, store._transaction() as cur:
        cur.execute("SELECT id, state, attempts, last_error, delivered_at, receipt "
                    "FROM outbox ORDER BY id")
        rows = cur.fetchall()
    assert [tuple(r) for r in rows] == [
        (a.id, "delivered", 2, "http_503", NOW + 4,
         '{"channel":"C024BE91L","ts":"1795000021.000200"}'),
        (b.id, "failed", 0, "invalid_auth", None, "{}"),
        (c.id, "pending", 0, None, None, "{}")]


def test_threads(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    assert store.thread("slack", "slack:abcd1234:1") is None
    store.save_thread("slack", "slack:abcd1234:1", {"channel": "C1", "ts": "1.000100"})
    store.save_thread("slack-b", "slack:abcd1234:1", {"channel": "C2", "ts": "2.0"})
    assert store.thread("slack", "slack:abcd1234:1") == {"channel": "C1", "ts": "1.000100"}
    store.save_thread("slack", "slack:abcd1234:1", {"channel": "C1", "ts": "3.0"})
    assert store.thread("slack", "slack:abcd1234:1") == {"channel": "C1", "ts": "3.0"}
    assert store.thread("slack-b", "slack:abcd1234:1") == {"channel": "C2", "ts": "2.0"}


def test_prune_outbox_and_threads(make_store: StoreFactory) -> None:
    clock = [NOW - 86400.0]
    store = make_store(clock=lambda: clock[0])
    old = [note(i, created_at=NOW - 86400) for i in range(1, 5)]
    store.save_change(StateChange(notifications=old))
    store.mark_delivered(old[0].id, NOW - 86000, {"ts": "1"})
    store.mark_failed(old[1].id, NOW - 86000, "channel_not_found")
    store.mark_delivered(old[2].id, NOW - 10, {"ts": "2"})  # delivered late, recently
    # Old threads: one whose episode is over, one with an entry still pending, one whose
    # group still runs it; and a new one.
    for episode in ("ep-closed", "ep-pending", "ep-running"):
        store.save_thread("slack", episode, {"ts": episode})
    clock[0] = NOW
    store.save_thread("slack", "ep-new", {"ts": "new"})
    store.save_change(StateChange(
        notifications=[note(9, created_at=NOW - 5, episode="ep-pending")],
        groups=[group("g", episode="ep-running")]))

    assert store.prune_outbox(NOW - 3600) == 2
    assert store.outbox_counts() == {"pending": 2, "delivered": 1, "failed": 0}
    assert [store.thread("slack", e) is not None
            for e in ("ep-closed", "ep-pending", "ep-running", "ep-new")] == [
        False, True, True, True]
    assert store.prune_outbox(NOW - 3600) == 0
    assert store.prune_outbox(NOW) == 1  # the late delivery's turn


def test_silences(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    active = silence("s-active", NOW - 60, NOW + 3600, created=NOW - 60)
    future = silence("s-future", NOW + 600, NOW + 7200, created=NOW - 30)
    ended = silence("s-ended", NOW - 7200, NOW - 3600, created=NOW - 7200)
    for s in (ended, active, future):
        store.add_silence(s)
    with pytest.raises(ValueError, match="s-active"):
        store.add_silence(silence("s-active", NOW, NOW + 1))
    assert store.silences(NOW) == [future, active]  # newest first
    assert store.silences(NOW, include_expired=True) == [future, active, ended]
    assert store.silences(NOW)[0].matchers[1].matches({"severity": "page"})

    assert store.expire_silence("s-active", NOW) is True
    assert store.expire_silence("s-active", NOW + 1) is False  # already ended
    assert store.expire_silence("s-ended", NOW) is False
    assert store.expire_silence("nope", NOW) is False
    assert store.expire_silence("s-future", NOW) is True
    assert store.silences(NOW) == []
    kept = {s.id: s for s in store.silences(NOW, include_expired=True)}
    assert (kept["s-active"].starts_at, kept["s-active"].ends_at) == (NOW - 60, NOW)
    # Ended before it started: it never mutes anything.
    assert (kept["s-future"].starts_at, kept["s-future"].ends_at) == (NOW, NOW)


def test_ended_silences_are_kept_seven_days(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    week = SILENCE_RETENTION_SECONDS
    store.add_silence(silence("a", NOW - week - 200, NOW - week - 100, created=NOW - week - 300))
    store.add_silence(silence("b", NOW - week, NOW - week + 100, created=NOW - week - 10))
    store.add_silence(silence("c", NOW, NOW + 60))  # adding prunes what ended a week ago
    assert [s.id for s in store.silences(NOW, include_expired=True)] == ["c", "b"]
    assert store.prune_silences(NOW + 101) == 1
    assert [s.id for s in store.silences(NOW, include_expired=True)] == ["c"]


def test_one_lease_holder_renewal_takeover_release(make_store: StoreFactory) -> None:
    a, b = make_store(clock=lambda: NOW), make_store(clock=lambda: NOW)
    assert a.acquire_lease("alerts", "replica-a", 15, NOW) is True
    assert b.acquire_lease("alerts", "replica-b", 15, NOW + 1) is False
    assert b.acquire_lease("other", "replica-b", 15, NOW + 1) is True  # leases are apart
    # Renewal moves the expiry on: b cannot take it where the first term would have ended.
    assert a.acquire_lease("alerts", "replica-a", 15, NOW + 10) is True
    assert b.acquire_lease("alerts", "replica-b", 15, NOW + 16) is False
    # a stops renewing: once its term is over, b takes over and a has lost it.
    assert b.acquire_lease("alerts", "replica-b", 15, NOW + 25) is True
    assert a.acquire_lease("alerts", "replica-a", 15, NOW + 26) is False
    a.release_lease("alerts", "replica-a")  # not its own any more: nothing happens
    assert a.acquire_lease("alerts", "replica-a", 15, NOW + 27) is False
    b.release_lease("alerts", "replica-b")  # at shutdown: free at once
    assert a.acquire_lease("alerts", "replica-a", 15, NOW + 28) is True


def test_racing_replicas_get_one_holder(make_store: StoreFactory) -> None:
    stores = [make_store(clock=lambda: NOW) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[tuple[str, str]] = []

    def race(i: int, store: SqlProbeStore, name: str) -> None:
        barrier.wait()  # all at once, each on its own connection
        if store.acquire_lease(name, f"replica-{i}", 15, NOW):
            won.append((name, f"replica-{i}"))

    for round_ in range(5):
        won.clear()
        threads = [threading.Thread(target=race, args=(i, s, f"lease-{round_}"))
                   for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        # ...and every store agrees on who it is.
        assert [s.acquire_lease(f"lease-{round_}", f"replica-{i}", 15, NOW + 1)
                for i, s in enumerate(stores)].count(True) == 1


def test_concurrent_use_of_one_store(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.save_change(StateChange(notifications=[note(i) for i in range(400)]))
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(k, 400, 4):
                nid = note(i).id
                store.record_attempt(nid, 1, NOW, None)
                store.mark_delivered(nid, NOW + 1, {"ts": str(i)})
                store.due_notifications(NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.outbox_counts() == {"pending": 0, "delivered": 400, "failed": 0}


def _back_to_version_2(store: SqlProbeStore) -> None:
    """Bring a store's database back to what migrations 1 and 2 left."""
    conn = store._conn
    for version in range(schema.LATEST_VERSION, 2, -1):
        for statement in schema.statements(version, store.dialect):
            if m := re.match(r"CREATE TABLE (\w+)", statement):
                conn.execute(f"DROP TABLE {m.group(1)}")
            elif m := re.match(r"CREATE INDEX (\w+)", statement):
                conn.execute(f"DROP INDEX IF EXISTS {m.group(1)}")
            elif m := re.match(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", statement):
                conn.execute(f"ALTER TABLE {m.group(1)} DROP COLUMN {m.group(2)}")
        conn.execute(f"DELETE FROM schema_version WHERE version = {version}")
    if store.dialect == "postgres":
        conn.commit()


def test_a_version_2_database_migrates(make_store: StoreFactory) -> None:
    store = make_store(clock=lambda: NOW)
    store.record("app", "api", ProbeResult(True, "ok", 0.1, started_at=NOW - 60), False)
    store.flush()
    _back_to_version_2(store)
    assert store.schema_version() == 2
    store.close()

    again = make_store(clock=lambda: NOW)
    assert again.schema_version() == schema.LATEST_VERSION
    assert again.targets() == {"api": "app"}  # the history is still there
    again.save_change(StateChange(alerts=[alert(1)], notifications=[note(1)]))
    assert again.load_engine_state().alerts == {"fp00001": alert(1)}


def every_method(store: SqlProbeStore) -> dict[str, Callable[[], object]]:
    """One call of every AlertStore method."""
    n = note(1)
    return {
        "load_engine_state": store.load_engine_state,
        "save_change": lambda: store.save_change(
            StateChange(alerts=[alert(1)], groups=[group("a")], notifications=[n])),
        "add_silence": lambda: store.add_silence(silence(f"s{threading.get_ident()}-"
                                                         f"{id(object())}", NOW, NOW + 60)),
        "expire_silence": lambda: store.expire_silence("none", NOW),
        "silences": lambda: store.silences(NOW, include_expired=True),
        "due_notifications": lambda: store.due_notifications(NOW),
        "pending_notifications": lambda: store.pending_notifications("slack"),
        "outbox_counts": store.outbox_counts,
        "record_attempt": lambda: store.record_attempt(n.id, 1, NOW, None),
        "mark_delivered": lambda: store.mark_delivered("none", NOW, {}),
        "mark_failed": lambda: store.mark_failed("none", NOW, "x"),
        "thread": lambda: store.thread("slack", n.id),
        "save_thread": lambda: store.save_thread("slack", n.id, {"ts": "1"}),
        "prune_outbox": lambda: store.prune_outbox(NOW - 3600),
        "acquire_lease": lambda: store.acquire_lease("alerts", "me", 15, NOW),
        "release_lease": lambda: store.release_lease("alerts", "nobody"),
    }


def test_every_method_is_in_the_outage_test() -> None:
    protocol = {name for name in vars(AlertStore) if not name.startswith("_")}
    assert set(every_method(SqlProbeStore.__new__(SqlProbeStore))) == protocol
