"""Merge several ordered input streams of one partition into event-time order.

A user's clicks, searches, purchases and profile updates arrive on four topics; how the
consumer interleaves them depends on fetch timing. The merger holds each source's
records in its own queue and releases the one with the smallest event time, but only
while every source either has a record queued or is known to be drained (caught up
with what the broker has). This is the rule Kafka Streams uses to merge input partitions;
it makes processing order a function of the data, not of fetch timing.

>>> merger: SourceMerger[str] = SourceMerger(("clicks", "purchases"))
>>> merger.push("purchases", 20, "buy@20")
>>> merger.pop_ready(lambda source: False)  # clicks may still hold something earlier
[]
>>> merger.push("clicks", 10, "view@10"); merger.push("clicks", 30, "view@30")
>>> merger.pop_ready(lambda source: False)
['view@10', 'buy@20']
>>> merger.pop_ready(lambda source: source == "purchases")  # purchases is drained
['view@30']
>>> merger.push("clicks", 40, "view@40")
>>> merger.pop_ready(lambda source: True, ripe=lambda item: False)  # it waits a little
[]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class SourceMerger(Generic[T]):
    __slots__ = ("_queues", "_rank")

    def __init__(self, sources: Sequence[str]) -> None:
        self._queues: dict[str, deque[tuple[int, T]]] = {source: deque() for source in sources}
        self._rank = {source: index for index, source in enumerate(sources)}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def heads(self) -> dict[str, tuple[int, int, T] | None]:
        """Per source: (records queued, event time of the first, the first), or None."""
        return {
            source: (len(queue), queue[0][0], queue[0][1]) if queue else None
            for source, queue in self._queues.items()
        }

    def push(self, source: str, ts: int, item: T) -> None:
        self._queues[source].append((ts, item))

    def pop_ready(
        self, drained: Callable[[str], bool], ripe: Callable[[T], bool] | None = None
    ) -> list[T]:
        """Release records in (event time, source order) while no source can undercut them.

        `ripe` (optional): a record that would pass an empty, drained source goes only
        when `ripe(record)` — it has waited long enough for that source to speak up.
        """
        released: list[T] = []
        queues = self._queues
        while True:
            best: str | None = None
            best_key = (0, 0)
            passes_empty = False
            for source, queue in queues.items():
                if queue:
                    key = (queue[0][0], self._rank[source])
                    if best is None or key < best_key:
                        best, best_key = source, key
                elif not drained(source):
                    return released  # this source may still deliver an earlier record
                else:
                    passes_empty = True
            if best is None:
                return released
            head = queues[best][0][1]
            if passes_empty and ripe is not None and not ripe(head):
                return released
            released.append(queues[best].popleft()[1])

    def drain(self) -> list[T]:
        """Everything still queued, in merge order (for the end of an input)."""
        return self.pop_ready(lambda source: True)

    def clear(self) -> list[T]:
        """Drop every queued record (their partition moved away); returns them."""
        dropped = [item for queue in self._queues.values() for _, item in queue]
        for queue in self._queues.values():
            queue.clear()
        return dropped
