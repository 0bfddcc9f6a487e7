"""Live population ranks over fixed buckets: streaming quantiles that can also forget.

RFM scores rank a user against all current customers. A user's value changes as they buy,
so the structure must remove the old value and add the new one; a Fenwick tree over fixed
buckets does both, and the rank query, in O(log buckets) with bounded, deterministic state.

>>> ranks = BucketRanks(lambda value: min(int(value), 99), 100)
>>> for orders in (1, 1, 1, 2, 5):
...     ranks.add(orders)
>>> ranks.midrank(1), ranks.midrank(5), ranks.midrank(2)
(0.3, 0.9, 0.7)
>>> ranks.remove(1); ranks.add(3); ranks.count
5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final


class BucketRanks:
    """Counts of values per bucket, with mid-rank queries (share below + half the ties)."""

    __slots__ = ("_bucket", "_counts", "_size", "_tree", "count")

    def __init__(self, bucket: Callable[[float], int], size: int) -> None:
        self._bucket = bucket
        self._size = size
        self._tree = [0] * (size + 1)
        self._counts: dict[int, int] = {}
        self.count = 0

    def _index(self, value: float) -> int:
        return min(max(self._bucket(value), 0), self._size - 1)

    def _change(self, index: int, delta: int) -> None:
        self._counts[index] = self._counts.get(index, 0) + delta
        if not self._counts[index]:
            del self._counts[index]
        self.count += delta
        position = index + 1
        tree = self._tree
        while position <= self._size:
            tree[position] += delta
            position += position & -position

    def add(self, value: float) -> None:
        self._change(self._index(value), 1)

    def remove(self, value: float) -> None:
        index = self._index(value)
        if self._counts.get(index, 0) > 0:
            self._change(index, -1)

    def _below(self, index: int) -> int:
        total = 0
        tree = self._tree
        while index > 0:
            total += tree[index]
            index -= index & -index
        return total

    def midrank(self, value: float) -> float:
        """Share of counted values below `value`, plus half of those in its bucket."""
        if not self.count:
            return 0.5
        index = self._index(value)
        return (self._below(index) + 0.5 * self._counts.get(index, 0)) / self.count

    def to_dict(self) -> dict[str, int]:
        return {str(index): count for index, count in sorted(self._counts.items())}

    def load(self, counts: dict[str, int]) -> None:
        for index, count in counts.items():
            self._change(int(index), int(count))


# Bucketings for the three RFM dimensions.
FREQUENCY_BUCKETS: Final = 256
MONETARY_BUCKETS: Final = 600
RECENCY_BUCKETS: Final = 1 << 16  # days from 1970 to 2149
_LOG_STEP: Final = math.log(1.04)


def frequency_bucket(orders: float) -> int:
    return int(orders)


def monetary_bucket(amount: float) -> int:
    """4% wide buckets on a log scale: 600 of them reach ~1.6e10."""
    return int(math.log1p(max(amount, 0.0)) / _LOG_STEP)


def recency_bucket(last_purchase_day: float) -> int:
    """Days since 1970-01-01 (any log's history): a later last purchase ranks higher."""
    return int(last_purchase_day)


def quintile(midrank: float) -> int:
    """Score 1..5 from a mid-rank in [0, 1].

    >>> [quintile(x) for x in (0.0, 0.19, 0.2, 0.5, 0.99, 1.0)]
    [1, 1, 2, 3, 5, 5]
    """
    return min(5, 1 + int(midrank * 5))
