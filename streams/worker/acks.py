"""Acknowledge records strictly in offset order per topic-partition.

Faust's commit logic (`Consumer._new_offset`, faust-streaming 0.15) assumes acks arrive
in offset order: its gap check is off by one (`min(acked) - committed > 1`, where the
committed offset is already the *next* offset to read) and is skipped before the first
commit. A record acked while an earlier one of the same partition is still held (in the
source merger, say) can therefore make Faust commit past the earlier one, which is then
never processed after a restart. Acking only the processed prefix of each partition keeps
every commit behind every unprocessed record.

>>> acks = AckSequencer()
>>> for offset in (5, 6, 7):
...     acks.delivered(("clicks", 0), offset, f"e{offset}")
>>> acks.done(("clicks", 0), 6), acks.done(("clicks", 0), 5)
([], ['e5', 'e6'])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class AckSequencer:
    __slots__ = ("_pending",)

    def __init__(self) -> None:
        # Per topic-partition: offset → [event, processed?], in delivery (offset) order.
        self._pending: dict[Hashable, OrderedDict[int, list[Any]]] = {}

    def delivered(self, tp: Hashable, offset: int, event: Any) -> None:
        self._pending.setdefault(tp, OrderedDict())[offset] = [event, False]

    def done(self, tp: Hashable, offset: int) -> list[Any]:
        """Mark a record processed; returns the events that may now be acked, in order."""
        queue = self._pending.get(tp)
        if queue is None or offset not in queue:
            return []
        queue[offset][1] = True
        ready = []
        while queue:
            first = next(iter(queue))
            event, processed = queue[first]
            if not processed:
                break
            del queue[first]
            ready.append(event)
        return ready

    def forget(self, partitions: set[int]) -> None:
        """Drop everything of partitions that moved away (they will be redelivered)."""
        for tp in [tp for tp in self._pending if tp[1] in partitions]:  # type: ignore[index]
            del self._pending[tp]

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._pending.values())
