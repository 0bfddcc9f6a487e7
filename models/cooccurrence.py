"""Recommendations: item co-occurrence within each user's recent items, in bounded memory.

When a user interacts with an item, it is linked to the items they touched just before
(closer ones weigh more, purchases more than views; a view links only to the latest). Top-k for a user = items most linked
to their recent items, plus the recent items themselves (people come back to what they
looked at), filled up with the most popular items. Memory is capped: at most
2 × `max_items` items tracked (the least popular are dropped and the rest age by half)
and 2 × `neighbours` links per item (the weakest are dropped).

>>> reco = CoOccurrence(CoOccurrenceConfig(max_items=100, neighbours=5))
>>> for _ in range(3):
...     reco.learn_one(["tent"], "sleeping_bag", 5.0)
...     reco.learn_one(["phone"], "case", 5.0)
>>> reco.recommend(["tent"], 2)
['sleeping_bag', 'tent']
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from models.checkpoint import CheckpointError, count, field, number_map

REFRESH = 100  # updates between refreshes of the popular items
TOP = 50  # popular items kept ready


@dataclass(frozen=True, slots=True)
class CoOccurrenceConfig:
    max_items: int = 500
    neighbours: int = 10
    recent_weight: float = 1.0  # score of the user's own most recent item, before links
    window: int = 3  # an interaction is linked to this many of the user's latest items

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CoOccurrence:
    kind = "recommendations"

    def __init__(self, config: CoOccurrenceConfig | None = None) -> None:
        self.config = config or CoOccurrenceConfig()
        self.links: dict[str, dict[str, float]] = {}
        self.popularity: dict[str, float] = {}
        self.updates = 0
        self._top: list[str] = []  # most popular items, refreshed every REFRESH updates
        self._top_at = -1

    def learn_one(self, recent: Sequence[str], item: str, weight: float) -> None:
        self.updates += 1
        self.popularity[item] = self.popularity.get(item, 0.0) + weight
        # Weak signals (views) link only to the latest item: they are most of the traffic.
        window = self.config.window if weight > 1.0 else 1
        for distance, other in enumerate(reversed(recent[-window:])):
            if other != item:
                strength = weight / (1 + distance)
                self._link(other, item, strength)
                self._link(item, other, strength)
        if len(self.popularity) > 2 * self.config.max_items:
            self._forget()

    def recommend(self, recent: Sequence[str], k: int, exclude: Collection[str] = ()) -> list[str]:
        scores: dict[str, float] = {}
        for distance, item in enumerate(reversed(recent)):
            closeness = 1.0 / (1 + distance)
            scores[item] = scores.get(item, 0.0) + self.config.recent_weight * closeness
            row = self.links.get(item)
            if row:
                total = sum(row.values())
                for other, strength in row.items():
                    scores[other] = scores.get(other, 0.0) + closeness * strength / total
        for item in exclude:
            scores.pop(item, None)
        ranked = heapq.nsmallest(k, scores, key=lambda name: (-scores[name], name))
        if len(ranked) < k:
            taken = set(ranked) | set(exclude)
            for item in self.popular(k + len(taken)):
                if item not in taken:
                    ranked.append(item)
                    if len(ranked) == k:
                        break
        return ranked

    def popular(self, k: int) -> list[str]:
        """The k most popular items (as of the last refresh: every 100 updates, since
        ranking every item on every call would cost more than the rest of the model)."""
        if self._top_at < 0 or self.updates - self._top_at >= REFRESH or len(self._top) < k:
            pop = self.popularity
            self._top = heapq.nsmallest(max(k, TOP), pop, key=lambda name: (-pop[name], name))
            self._top_at = self.updates
        return self._top[:k]

    def to_state(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "popularity": self.popularity,
            "links": self.links,
            "top": self._top,
            "top_at": self._top_at,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take a checkpoint's numbers; CheckpointError names the first field that is wrong."""
        limit = 2 * self.config.max_items + 1  # as many as the model itself ever holds
        self.updates = count(field(state, "updates"), "updates")
        self.popularity = number_map(field(state, "popularity"), "popularity", limit)
        links = field(state, "links")
        if not isinstance(links, dict) or len(links) > limit:
            raise CheckpointError("checkpoint field links is not a bounded map")
        self.links = {
            str(item): number_map(row, f"links[{item!r}]", 2 * self.config.neighbours + 1)
            for item, row in links.items()
        }
        top = field(state, "top")
        if not isinstance(top, list) or not all(isinstance(item, str) for item in top):
            raise CheckpointError("checkpoint field top is not a list of items")
        self._top = top
        top_at = field(state, "top_at")
        self._top_at = -1 if top_at == -1 else count(top_at, "top_at")

    def _link(self, a: str, b: str, strength: float) -> None:
        row = self.links.get(a)
        if row is None:
            row = self.links[a] = {}
        row[b] = row.get(b, 0.0) + strength
        cap = self.config.neighbours
        if len(row) > 2 * cap:
            keep = sorted(row, key=lambda name: (-row[name], name))[:cap]
            self.links[a] = {name: row[name] for name in keep}

    def _forget(self) -> None:
        pop = self.popularity
        keep = sorted(pop, key=lambda name: (-pop[name], name))[: self.config.max_items]
        # Survivors age by half, so items popular long ago make way for new ones.
        self.popularity = {name: pop[name] / 2 for name in keep}
        self.links = {name: row for name, row in self.links.items() if name in self.popularity}
