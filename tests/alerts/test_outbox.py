"""The outbox dispatcher over the real SQLite store: order, retries, permanent failures,
crash recovery and pacing.  The provider is a scripted stand-in (the providers have their
own tests against local servers); time is real but short."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.errors import DeliveryError, PermanentError, RetryableError
from alerts.model import AlertSnapshot, Notification
from alerts.outbox import Delivery, Destination, Dispatcher, backoff_seconds
from alerts.providers import Receipt
from alerts.store import StateChange
from monitor.store.sqlite import SqliteProbeStore


class Scripted:
    """A provider that answers from a script: one item per send (an exception to raise, or
    None to accept), then accepts everything."""

    def __init__(self, script: list[DeliveryError | None] | None = None,
                 delivered_before: set[str] | None = None) -> None:
        self.script = list(script or [])
        self.sent: list[tuple[str, Receipt | None, float]] = []
        self.delivered_before = delivered_before or set()
        self.lookups: list[str] = []

    async def send(self, n: Notification, thread: Receipt | None) -> Receipt:
        loop = asyncio.get_running_loop()
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        self.sent.append((n.id, thread, loop.time()))
        return {"channel": "C1", "ts": f"{len(self.sent)}.000"}

    async def find_delivered(self, n: Notification, thread: Receipt | None) -> Receipt | None:
        self.lookups.append(n.id)
        return {"channel": "C1", "ts": "0.1"} if n.id in self.delivered_before else None

    async def check(self) -> list[str]:
        return []

    async def close(self) -> None:
        return None


def note(i: int, *, kind: str = "firing", episode: str = "ep", receiver: str = "r/slack",
         at: float = 1000.0) -> Notification:
    alert = AlertSnapshot(fingerprint=f"{i:016x}", status="firing",
                          labels=(("alertname", "TargetDown"),), annotations=(),
                          starts_at=at)
    return Notification(id=f"{receiver}:g:{i}", receiver=receiver, route="r", group_key="g",
                        group_labels=(), kind=kind,  # type: ignore[arg-type]
                        created_at=at + i, episode=episode, alerts=(alert,))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteProbeStore]:
    s = SqliteProbeStore(str(tmp_path / "o.db"))
    yield s
    s.close()


def dispatcher(store: SqliteProbeStore, provider: Scripted, *, interval: float = 0.0,
               seen: list[Delivery] | None = None) -> Dispatcher:
    dest = Destination(provider=provider, kind="slack", pace_key="slack:x",
                       min_interval_seconds=interval)
    return Dispatcher(store, {"r/slack": dest}, rng=random.Random(7),
                      on_delivery=(seen.append if seen is not None else lambda d: None))


async def until(check: Callable[[], Any], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_delivers_every_entry_once_in_order(store: SqliteProbeStore) -> None:
    notes = [note(i) for i in range(5)]
    store.save_change(StateChange(notifications=notes))
    p = Scripted()
    d = dispatcher(store, p)
    d.start()
    await until(lambda: len(p.sent) == 5)
    await asyncio.sleep(0.1)
    await d.stop()
    assert [s[0] for s in p.sent] == [n.id for n in notes]
    assert store.outbox_counts().get("pending", 0) == 0
    assert store.outbox_counts()["delivered"] == 5


async def test_a_retryable_failure_holds_the_line_then_everything_arrives_in_order(
        store: SqliteProbeStore) -> None:
    notes = [note(i) for i in range(3)]
    store.save_change(StateChange(notifications=notes))
    p = Scripted([RetryableError("http_500"), RetryableError("http_500")])
    seen: list[Delivery] = []
    d = dispatcher(store, p, seen=seen)
    d.start()
    await until(lambda: len(p.sent) == 3)
    await d.stop()
    assert [s[0] for s in p.sent] == [n.id for n in notes]
    assert [x.result for x in seen].count("retry") == 2
    # The retried entry was looked up before each resend: it might have been accepted.
    assert p.lookups == [notes[0].id, notes[0].id]


async def test_retry_after_is_respected(store: SqliteProbeStore) -> None:
    store.save_change(StateChange(notifications=[note(0)]))
    p = Scripted([RetryableError("ratelimited", retry_after=1.0)])
    d = dispatcher(store, p)
    loop = asyncio.get_running_loop()
    started = loop.time()
    d.start()
    await until(lambda: len(p.sent) == 1)
    await d.stop()
    assert p.sent[0][2] - started >= 1.0


async def test_a_permanent_error_fails_the_entry_once_and_marks_the_receiver_broken(
        store: SqliteProbeStore, caplog: pytest.LogCaptureFixture) -> None:
    store.save_change(StateChange(notifications=[note(0), note(1)]))
    p = Scripted([PermanentError("invalid_auth"), PermanentError("invalid_auth")])
    seen: list[Delivery] = []
    d = dispatcher(store, p, seen=seen)
    d.start()
    await until(lambda: store.outbox_counts().get("failed", 0) == 2)
    await d.stop()
    assert p.sent == []
    assert d.broken == {"r/slack": "invalid_auth"}
    assert [x.result for x in seen] == ["failed", "failed"]
    logged = [r for r in caplog.records if r.getMessage() == "notification_failed_permanently"]
    assert len(logged) == 1  # logged once, counted twice


async def test_a_later_delivery_clears_broken(store: SqliteProbeStore) -> None:
    store.save_change(StateChange(notifications=[note(0), note(1)]))
    p = Scripted([PermanentError("channel_not_found")])
    d = dispatcher(store, p)
    d.start()
    await until(lambda: len(p.sent) == 1)
    await d.stop()
    assert d.broken == {}


async def test_an_attempt_started_before_a_crash_is_looked_up_not_resent(
        store: SqliteProbeStore) -> None:
    n = note(0)
    store.save_change(StateChange(notifications=[n]))
    store.record_attempt(n.id, 1, 0.0, None)  # the crashed process had started sending
    p = Scripted(delivered_before={n.id})
    seen: list[Delivery] = []
    d = dispatcher(store, p, seen=seen)
    d.start()
    await until(lambda: store.outbox_counts().get("delivered", 0) == 1)
    await d.stop()
    assert p.sent == []
    assert [x.result for x in seen] == ["recovered"]


async def test_replies_get_the_thread_of_their_episode(store: SqliteProbeStore) -> None:
    first = note(0, kind="firing", episode="ep1")
    reply = note(1, kind="update", episode="ep1")
    store.save_change(StateChange(notifications=[first, reply]))
    p = Scripted()
    d = dispatcher(store, p)
    d.start()
    await until(lambda: len(p.sent) == 2)
    await d.stop()
    assert p.sent[0][1] is None
    assert p.sent[1][1] == {"channel": "C1", "ts": "1.000"}


async def test_sends_to_one_slack_channel_are_paced(store: SqliteProbeStore) -> None:
    store.save_change(StateChange(notifications=[note(i) for i in range(3)]))
    p = Scripted()
    d = dispatcher(store, p, interval=0.3)
    d.start()
    await until(lambda: len(p.sent) == 3)
    await d.stop()
    gaps = [b[2] - a[2] for a, b in zip(p.sent, p.sent[1:], strict=False)]
    assert all(g >= 0.29 for g in gaps), gaps


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff_seconds(n, rng) for n in range(1, 12)]
    assert 0.5 <= delays[0] <= 1.0
    assert all(d <= 300.0 for d in delays)
    assert delays[-1] >= 150.0
    assert backoff_seconds(1, rng, retry_after=30.0) == 30.0
