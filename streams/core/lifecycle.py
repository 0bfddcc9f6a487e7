"""Lifecycle segments on event time: new → active → dormant → churned, and back.

Time-driven changes ("inactive for 30 days") are due at a known event time; the pipeline
fires them when the watermark passes that time, or earlier, when the user's own next event
shows that the time has passed. Either way the change carries the due time as its `ts`, so
the output does not depend on when it was noticed.

>>> from streams.core.config import LifecycleConfig
>>> from streams.core.state import UserState
>>> cfg, day = LifecycleConfig(), 86_400_000
>>> state = UserState("u1")
>>> on_activity(state, 0, "e1", cfg).new
'new'
>>> [(c.new, c.ts // day) for c in fire_due(state, 200 * day, cfg)]
[('active', 14), ('dormant', 30), ('churned', 90)]
>>> on_activity(state, 200 * day, "e2", cfg).reason
'returned after 200 days inactive'
"""

from __future__ import annotations

from typing import Final

from streams.core.changes import Change
from streams.core.config import LifecycleConfig
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

DIMENSION: Final = "lifecycle"
NEW: Final = "new"
ACTIVE: Final = "active"
DORMANT: Final = "dormant"
CHURNED: Final = "churned"
REACTIVATED: Final = "reactivated"
STATES: Final = (NEW, ACTIVE, REACTIVATED, DORMANT, CHURNED)


def on_activity(state: UserState, ts: int, cause: str, cfg: LifecycleConfig) -> Change | None:
    """Record an activity event; returns the change it causes, if any."""
    previous_activity = state.last_activity
    state.last_activity = max(state.last_activity, ts)
    if not state.lifecycle:
        if state.returning:
            return _move(state, REACTIVATED, ts, cause, "returned after their state expired")
        return _move(state, NEW, ts, cause, "first activity")
    if state.lifecycle in (DORMANT, CHURNED):
        days = (ts - previous_activity) // MS_PER_DAY
        return _move(state, REACTIVATED, ts, cause, f"returned after {days} days inactive")
    return None


def next_due(state: UserState, cfg: LifecycleConfig) -> tuple[int, str, str] | None:
    """The next time-driven change: (due time, new state, reason), or None."""
    current = state.lifecycle
    if not current or current == CHURNED:
        return None
    if current == DORMANT:
        return (
            state.last_activity + cfg.churned_after_days * MS_PER_DAY,
            CHURNED,
            f"inactive for {cfg.churned_after_days} days",
        )
    due, target, reason = (
        state.last_activity + cfg.dormant_after_days * MS_PER_DAY,
        DORMANT,
        f"inactive for {cfg.dormant_after_days} days",
    )
    if current == NEW:
        matured = state.lifecycle_since + cfg.new_days * MS_PER_DAY
        if matured < due:
            due, target, reason = matured, ACTIVE, f"{cfg.new_days} days since first activity"
    elif current == REACTIVATED:
        settled = state.lifecycle_since + cfg.reactivated_days * MS_PER_DAY
        if settled < due:
            due, target, reason = settled, ACTIVE, f"active again for {cfg.reactivated_days} days"
    return due, target, reason


def fire_due(state: UserState, now: int, cfg: LifecycleConfig) -> list[Change]:
    """Apply every time-driven change due at or before `now`, in time order."""
    changes: list[Change] = []
    while (pending := next_due(state, cfg)) is not None and pending[0] <= now:
        due, target, reason = pending
        changes.append(_move(state, target, due, None, reason))
    return changes


def _move(state: UserState, target: str, ts: int, cause: str | None, reason: str) -> Change:
    change = Change(state.user_id, DIMENSION, state.lifecycle, target, reason, ts, cause)
    state.lifecycle = target
    state.lifecycle_since = ts
    return change
