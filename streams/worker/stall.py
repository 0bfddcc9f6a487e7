"""Is a partition stuck? Its committed offset has not moved for a while although it has lag.

A record that crashes the worker on every delivery, or a bug that wedges one partition,
shows up as exactly this, while the process looks alive. `/readyz` reports it, so an
orchestrator stops routing to (or restarts) the worker and an alert fires.

>>> watch = StallWatch(after_s=60)
>>> watch.observe(0.0, {("clicks", 3): (100, 5)})
[]
>>> watch.observe(61.0, {("clicks", 3): (100, 5)})  # no progress for 61 s with 5 waiting
['clicks[3]: committed offset 100 has not moved for 61 s with 5 records waiting']
>>> watch.observe(62.0, {("clicks", 3): (104, 1)})  # it moved
[]
>>> watch.observe(200.0, {("clicks", 3): (104, 0)})  # idle, nothing waiting: fine
[]
"""

from __future__ import annotations

Key = tuple[str, int]


class StallWatch:
    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._since: dict[Key, tuple[int, float]] = {}  # committed offset, first seen at

    def observe(self, now: float, positions: dict[Key, tuple[int, int]]) -> list[str]:
        """`positions`: (committed offset, lag) per input partition; the stuck ones, described."""
        stuck = []
        for key, (committed, lag) in sorted(positions.items()):
            seen = self._since.get(key)
            if seen is None or seen[0] != committed:
                self._since[key] = (committed, now)
                continue
            waited = now - seen[1]
            if lag > 0 and waited >= self.after_s:
                topic, partition = key
                stuck.append(
                    f"{topic}[{partition}]: committed offset {committed} has not moved for "
                    f"{waited:.0f} s with {lag} records waiting"
                )
        for key in list(self._since):
            if key not in positions:
                del self._since[key]  # moved to another worker
        return stuck
