"""Page-Hinkley: has the mean of a stream (the churn model's errors) gone up?

It keeps the running mean and the cumulative sum of deviations above it (less a
tolerance `delta`); a drift is flagged when that sum rises more than `threshold` above its
lowest point, and the detector starts over. Its state is four numbers, so it checkpoints
as data.

>>> detector = PageHinkley(threshold=5.0)
>>> [detector.update(0.1) for _ in range(100)].count(True)
0
>>> any(detector.update(0.9) for _ in range(100))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from models.checkpoint import count, field, number


class PageHinkley:
    def __init__(
        self, delta: float = 0.005, threshold: float = 50.0, min_instances: int = 30
    ) -> None:
        self.delta = delta
        self.threshold = threshold
        self.min_instances = min_instances
        self.seen = 0
        self.mean = 0.0
        self.total = 0.0
        self.lowest = 0.0

    def update(self, value: float) -> bool:
        """Take one value; True when it completes a drift (the detector then restarts)."""
        self.seen += 1
        self.mean += (value - self.mean) / self.seen
        self.total += value - self.mean - self.delta
        self.lowest = min(self.lowest, self.total)
        if self.seen >= self.min_instances and self.total - self.lowest > self.threshold:
            self.seen, self.mean, self.total, self.lowest = 0, 0.0, 0.0, 0.0
            return True
        return False

    def to_state(self) -> dict[str, Any]:
        return {"seen": self.seen, "mean": self.mean, "total": self.total, "lowest": self.lowest}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.seen = count(field(state, "seen"), "seen")
        self.mean = number(field(state, "mean"), "mean")
        self.total = number(field(state, "total"), "total")
        self.lowest = number(field(state, "lowest"), "lowest")
