"""Per-user memory of recent event ids, for dropping duplicates.

Ids are kept in the user's own state, so they survive restarts with it and cost no extra
write. An id is remembered while its event time is at or above the watermark: anything
older is rejected as too late before this check, so forgetting it loses nothing. A cap
bounds the list for users who send bursts.

>>> recent: list[tuple[int, str]] = []
>>> [remember(recent, eid, ts, watermark=0, cap=2) for eid, ts in [("a", 5), ("a", 5), ("b", 6)]]
[False, True, False]
>>> remember(recent, "c", 7, watermark=6, cap=2), recent
(False, [(6, 'b'), (7, 'c')])
"""

from __future__ import annotations


def remember(
    recent: list[tuple[int, str]], event_id: str, ts: int, watermark: int, cap: int
) -> bool:
    """True if `event_id` is among the recent ids (a duplicate); otherwise record it."""
    for _, seen in recent:
        if seen == event_id:
            return True
    recent.append((ts, event_id))
    if recent[0][0] < watermark or len(recent) > cap:
        kept = [entry for entry in recent if entry[0] >= watermark]
        recent[:] = kept[-cap:]
    return False
