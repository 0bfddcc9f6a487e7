"""One user's whole state: features plus current segment memberships, in one record.

It is what a Faust table holds per user key, so it round-trips through plain dicts. The
dict carries `version` (`STATE_VERSION`); a state saved by an older Pulse is brought up to
date by `upcast`, one step per version, so a changelog or snapshot outlives an upgrade:

>>> old = {"user_id": "u1", "churn_pending": [5, "e1", 0.4, [1.0]]}  # version 1: no key
>>> upcast(old)["version"], upcast(old)["churn_pending"], upcast(old)["churn_score"]
(4, [], -1.0)
>>> UserState.from_dict(UserState("u2").to_dict()).user_id
'u2'
>>> upcast({"user_id": "u3", "version": 99})
Traceback (most recent call last):
...
streams.core.state.StateVersionError: user state version 99 is newer than this Pulse reads (4): upgrade Pulse before it reads this state
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.features import UserFeatures

STATE_VERSION: Final = 4


class StateVersionError(ValueError):
    """A stored state this Pulse cannot read (written by a newer one, or no version)."""


@dataclass(slots=True)
class UserState:
    """Features and segment memberships of one user.

    `touched` is the latest event time of any kind (the state TTL runs from it); `due` is
    the next time-driven change or expiry.
    """

    user_id: str
    features: UserFeatures = field(default_factory=UserFeatures)
    lifecycle: str = ""
    lifecycle_since: int = 0
    last_activity: int = 0
    value_tier: str = ""
    value_checked_day: int = -1
    rfm: tuple[int, int, int] = (0, 0, 0)
    value_votes: int = 0  # time-driven re-scorings in a row that found a lower tier
    membership: str = ""
    rules: list[str] = field(default_factory=list)
    touched: int = 0
    due: int = 0
    recent_ids: list[tuple[int, str]] = field(default_factory=list)
    # Seen by this partition before their earlier state expired (streams/core/seen.py):
    # not welcomed as new, and their next order is not their "first".
    returning: bool = False
    # Models: churn prediction points awaiting their final label (streams/core/churn.py:
    # [ts, cause, returned, score, input forecasts, feature values], at most 4), the last
    # qualifying event and the last scoring (rescoring runs from them), the risk band, the
    # persona with a challenger and its votes, and the latest items for recommendations.
    churn_pending: list[Any] = field(default_factory=list)
    churn_anchor: int = 0
    churn_scored_at: int = 0
    churn_band: str = ""
    churn_score: float = -1.0  # the latest score (-1: never scored), for the profile view
    persona: str = ""
    persona_candidate: str = ""
    persona_votes: int = 0
    recent_items: list[str] = field(default_factory=list)
    # Campaigns: recent sends [ts, channel, campaign] (7 days), last send per campaign,
    # deferred messages, exposures awaiting attribution, and which timed triggers fired.
    sends: list[list[Any]] = field(default_factory=list)
    last_sent: dict[str, int] = field(default_factory=dict)
    deferred: list[list[Any]] = field(default_factory=list)
    exposures: list[list[Any]] = field(default_factory=list)
    fired: dict[str, int] = field(default_factory=dict)
    # Where this state came from, for a consumer of topics: the last offset applied per
    # source topic (the worker sets it; a redelivered record at or below it is skipped).
    applied: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "user_id": self.user_id,
            "features": self.features.to_dict(),
            "lifecycle": self.lifecycle,
            "lifecycle_since": self.lifecycle_since,
            "last_activity": self.last_activity,
            "value_tier": self.value_tier,
            "value_checked_day": self.value_checked_day,
            "rfm": list(self.rfm),
            "value_votes": self.value_votes,
            "membership": self.membership,
            "rules": list(self.rules),
            "touched": self.touched,
            "due": self.due,
            "recent_ids": [[ts, event_id] for ts, event_id in self.recent_ids],
            "returning": self.returning,
            "churn_pending": list(self.churn_pending),
            "churn_anchor": self.churn_anchor,
            "churn_scored_at": self.churn_scored_at,
            "churn_band": self.churn_band,
            "churn_score": self.churn_score,
            "persona": self.persona,
            "persona_candidate": self.persona_candidate,
            "persona_votes": self.persona_votes,
            "recent_items": list(self.recent_items),
            "sends": [list(row) for row in self.sends],
            "last_sent": dict(self.last_sent),
            "deferred": [list(row) for row in self.deferred],
            "exposures": [list(row) for row in self.exposures],
            "fired": dict(self.fired),
            "applied": dict(self.applied),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserState:
        """A state from its dict, of this or any older version (see `upcast`)."""
        data = upcast(data)
        r, f, m = data.get("rfm", (0, 0, 0))
        return cls(
            user_id=data["user_id"],
            features=UserFeatures.from_dict(data.get("features", {})),
            lifecycle=data.get("lifecycle", ""),
            lifecycle_since=data.get("lifecycle_since", 0),
            last_activity=data.get("last_activity", 0),
            value_tier=data.get("value_tier", ""),
            value_checked_day=data.get("value_checked_day", -1),
            rfm=(int(r), int(f), int(m)),
            value_votes=data.get("value_votes", 0),
            membership=data.get("membership", ""),
            rules=list(data.get("rules", [])),
            touched=data.get("touched", 0),
            due=data.get("due", 0),
            recent_ids=[(int(ts), str(event_id)) for ts, event_id in data.get("recent_ids", [])],
            returning=bool(data.get("returning", False)),
            churn_pending=[list(row) for row in data.get("churn_pending", [])],
            churn_anchor=data.get("churn_anchor", 0),
            churn_scored_at=data.get("churn_scored_at", 0),
            churn_band=data.get("churn_band", ""),
            churn_score=float(data.get("churn_score", -1.0)),
            persona=data.get("persona", ""),
            persona_candidate=data.get("persona_candidate", ""),
            persona_votes=data.get("persona_votes", 0),
            recent_items=list(data.get("recent_items", [])),
            sends=[list(row) for row in data.get("sends", [])],
            last_sent=dict(data.get("last_sent", {})),
            deferred=[list(row) for row in data.get("deferred", [])],
            exposures=[list(row) for row in data.get("exposures", [])],
            fired=dict(data.get("fired", {})),
            applied=dict(data.get("applied", {})),
        )


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 held one churn point as a flat [ts, event_id, score, values], resolved
    early when the user came back; it is dropped (its label would be biased)."""
    saved = data.get("churn_pending", [])
    points = [list(row) for row in saved if isinstance(row, list) and len(row) == 6]
    return {**data, "churn_pending": points}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 counts searches with a result count apart (`results` became optional);
    every search of a version-2 state had one."""
    features = dict(data.get("features", {}))
    features.setdefault("searches_counted", features.get("searches", 0))
    return {**data, "features": features}


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Version 4 keeps the latest churn score (for `user-profiles`); a version-3 state has
    it only in its latest pending point, if any."""
    pending = data.get("churn_pending") or []
    latest = pending[-1] if pending and isinstance(pending[-1], list) else None
    score = latest[3] if latest is not None and len(latest) > 3 else -1.0
    return {**data, "churn_score": float(score) if isinstance(score, int | float) else -1.0}


# UPCASTERS[n] turns a version-n dict into version n + 1. A new version adds one entry.
UPCASTERS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
}


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    """`data` brought to `STATE_VERSION`, one upcaster per version step."""
    version = data.get("version", 1)  # states from before versioning carry no key
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StateVersionError(f"user state version {version!r} is not a version number")
    if version > STATE_VERSION:
        raise StateVersionError(
            f"user state version {version} is newer than this Pulse reads ({STATE_VERSION}): "
            "upgrade Pulse before it reads this state"
        )
    while version < STATE_VERSION:
        data = UPCASTERS[version](data)
        version += 1
    return {**data, "version": STATE_VERSION}
