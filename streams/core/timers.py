"""Due-time index: which users have a time-driven change due, cheapest first.

Every user has at most one "next due" time (the earliest of their pending lifecycle
changes). A heap holds (due, user); an entry is valid only while it matches the user's
scheduled time, so rescheduling never searches the heap. A user whose next due time moves
*later* keeps the earlier entry: it pops, finds nothing due yet, and is rescheduled. Heap
size therefore stays near the number of users, not the number of events.

>>> index = DueIndex()
>>> index.schedule("u1", 100); index.schedule("u2", 50); index.schedule("u1", 40)
>>> index.pop_due(60)
['u1', 'u2']
>>> index.pop_due(1000)
[]
"""

from __future__ import annotations

import heapq


class DueIndex:
    __slots__ = ("_heap", "_scheduled")

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._scheduled)

    def schedule(self, user_id: str, due: int) -> None:
        """Make sure `user_id` is looked at no later than `due` (0 cancels nothing)."""
        current = self._scheduled.get(user_id)
        if current is not None and current <= due:
            return
        self._scheduled[user_id] = due
        heapq.heappush(self._heap, (due, user_id))

    def cancel(self, user_id: str) -> None:
        self._scheduled.pop(user_id, None)

    def next_due(self) -> int | None:
        while self._heap:
            due, user_id = self._heap[0]
            if self._scheduled.get(user_id) == due:
                return due
            heapq.heappop(self._heap)
        return None

    def pop_due(self, watermark: int) -> list[str]:
        """Users whose scheduled time is <= watermark, in (due, user) order; unscheduled."""
        heap = self._heap
        scheduled = self._scheduled
        users: list[str] = []
        while heap and heap[0][0] <= watermark:
            due, user_id = heapq.heappop(heap)
            if scheduled.get(user_id) == due:
                del scheduled[user_id]
                users.append(user_id)
        return users
