"""Alerts and silences as the CLI's ``--json`` and the HTTP API show them (one shape)."""

from __future__ import annotations

from typing import Any

from alerts.config import AlertsConfig
from alerts.engine import muted_by
from alerts.model import Alert, Silence
from alerts.store import AlertStore


def alert_dict(a: Alert, muted: tuple[str, ...]) -> dict[str, Any]:
    """One alert: labels and annotations (never customer data), times, what mutes it."""
    return {"fingerprint": a.fingerprint, "alertname": a.label("alertname"),
            "status": a.status, "severity": a.label("severity"), "labels": dict(a.labels),
            "annotations": dict(a.annotations), "active_since": a.active_since,
            "fired_at": a.fired_at, "muted_by": list(muted)}


def silence_dict(s: Silence, now: float) -> dict[str, Any]:
    """One silence, with its state at ``now``: active, pending (future) or expired."""
    state = "active" if s.active(now) else ("pending" if s.starts_at > now else "expired")
    return {"id": s.id, "matchers": [str(m) for m in s.matchers], "starts_at": s.starts_at,
            "ends_at": s.ends_at, "author": s.author, "reason": s.reason,
            "created_at": s.created_at, "state": state}


def current_alerts(store: AlertStore, config: AlertsConfig, now: float) -> list[dict[str, Any]]:
    """Firing and pending alerts as last saved, firing first, oldest first, with the
    silences (ids) or inhibition muting them."""
    state = store.load_engine_state()
    muted = muted_by(state, config, store.silences(now), now)
    live = [a for a in state.alerts.values() if a.status != "resolved"]
    live.sort(key=lambda a: (a.status != "firing", a.fired_at or a.active_since, a.labels))
    return [alert_dict(a, muted.get(a.fingerprint, ())) for a in live]
