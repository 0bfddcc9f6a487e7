"""A bounded window of recently seen event ids, for dropping duplicates.

Ids are remembered while their event time is above the watermark: anything older is
rejected as too late before it reaches this check, so forgetting it loses nothing. A cap
on the count bounds memory when the watermark stalls.

>>> window = DedupWindow(max_ids=2)
>>> window.seen("a", 10), window.seen("a", 10), window.seen("b", 11), window.seen("c", 12)
(False, True, False, False)
>>> window.seen("a", 13)  # evicted by the cap: accepted again
False
"""

from __future__ import annotations

from collections import deque


class DedupWindow:
    __slots__ = ("_ids", "_order", "max_ids")

    def __init__(self, max_ids: int) -> None:
        self.max_ids = max_ids
        self._ids: dict[str, int] = {}
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._ids)

    def seen(self, event_id: str, ts: int) -> bool:
        """True if `event_id` was seen before; otherwise remember it and return False."""
        if event_id in self._ids:
            return True
        self._ids[event_id] = ts
        self._order.append((ts, event_id))
        if len(self._ids) > self.max_ids:
            self._forget_oldest()
        return False

    def _forget_oldest(self) -> None:
        while self._order:
            _, event_id = self._order.popleft()
            if self._ids.pop(event_id, None) is not None:
                return

    def prune(self, watermark: int) -> None:
        """Forget ids whose event time is below the watermark (in arrival order)."""
        order = self._order
        while order and order[0][0] < watermark:
            _, event_id = order.popleft()
            self._ids.pop(event_id, None)

    def to_list(self) -> list[tuple[int, str]]:
        return [(ts, event_id) for ts, event_id in self._order if event_id in self._ids]

    def load(self, entries: list[tuple[int, str]]) -> None:
        for ts, event_id in entries:
            self.seen(event_id, ts)
