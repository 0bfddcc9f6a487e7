"""A segment change as the core decides it, before it becomes an output event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """User `user_id` moved from `old` to `new` on `dimension` at event time `ts`.

    `cause` is the event id that caused it, or None for a time-driven (watermark) change.
    """

    user_id: str
    dimension: str
    old: str
    new: str
    reason: str
    ts: int
    cause: str | None
