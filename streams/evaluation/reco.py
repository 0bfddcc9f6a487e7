"""`pulse evaluate reco`: hit rate of recommendations on the next purchase, from a log.

Progressive, like the churn evaluation: at every purchase (a basket: purchase events of
one user in the same millisecond), the recommender is asked for the user's top k *before*
it learns from that purchase; a hit is any basket item among them. Three scorers share
what they have learned up to that moment:

* Pulse: item co-occurrence over the user's recent items (models/cooccurrence.py), the
  model the pipeline uses, here one model over all users;
* popularity: the k most popular items so far;
* recently viewed: the user's own last k items, newest first.

Shoppers mostly buy what they looked at, so the hit rate is also given for "new item"
baskets alone (nothing in them was among the user's recent items), where only a real
recommendation can hit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models.cooccurrence import CoOccurrence, CoOccurrenceConfig
from streams.core.errors import InvalidEvent
from streams.core.events import PurchaseEvent, decode_event
from streams.core.models_config import RecommendationSettings
from streams.core.recommend import RecommendTracker
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_DAY

SCORERS = ("pulse", "popularity", "recently_viewed")


@dataclass
class RecoResult:
    k: int
    baskets: int = 0
    scored: int = 0
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCORERS, 0))
    # Baskets with no item the user touched before: only real recommendations can hit.
    discovery: int = 0
    discovery_hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCORERS, 0))
    invalid: int = 0
    items_tracked: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "baskets": self.baskets,
            "scored_after_warmup": self.scored,
            "invalid_lines": self.invalid,
            "items_tracked_at_end": self.items_tracked,
            "hit_rate": {
                name: round(hits / self.scored, 4) if self.scored else None
                for name, hits in self.hits.items()
            },
            "new_item_baskets": self.discovery,
            "new_item_hit_rate": {
                name: round(hits / self.discovery, 4) if self.discovery else None
                for name, hits in self.discovery_hits.items()
            },
        }


def evaluate_reco(
    lines: Iterable[bytes],
    k: int,
    warmup_days: float,
    settings: RecommendationSettings | None = None,
) -> RecoResult:
    settings = settings or RecommendationSettings()
    model = CoOccurrence(CoOccurrenceConfig(settings.max_items, settings.neighbours))
    tracker = RecommendTracker(settings, model)
    users: dict[str, UserState] = {}
    last_basket: dict[str, int] = {}
    result = RecoResult(k)
    start: int | None = None
    for raw in lines:
        try:
            event = decode_event(raw)
        except InvalidEvent:
            result.invalid += 1
            continue
        start = event.ts if start is None else min(start, event.ts)
        state = users.get(event.user_id)
        if state is None:
            state = users[event.user_id] = UserState(event.user_id)
        if isinstance(event, PurchaseEvent) and last_basket.get(event.user_id) != event.ts:
            last_basket[event.user_id] = event.ts
            result.baskets += 1
            if event.ts >= start + warmup_days * MS_PER_DAY:
                bought = {item.item_id for item in event.items}
                result.scored += 1
                picks = {
                    "pulse": model.recommend(state.recent_items, k),
                    "popularity": model.popular(k),
                    "recently_viewed": list(reversed(state.recent_items))[:k],
                }
                new = not bought.intersection(state.recent_items)
                result.discovery += new
                for name, items in picks.items():
                    hit = bool(bought.intersection(items))
                    result.hits[name] += hit
                    if new:
                        result.discovery_hits[name] += hit
        tracker.on_event(state, event)
    result.items_tracked = len(model.popularity)
    return result
