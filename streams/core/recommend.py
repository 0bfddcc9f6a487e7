"""Per-user side of recommendations: which interactions teach the model, and the context.

Each user keeps their last few distinct items (views, wishlists, carts, purchases), newest
last. An interaction teaches the partition's recommender that the new item goes with
those recent ones, weighted by how strong the signal is; the same recent items are the
context for the user's top-k recommendations.
"""

from __future__ import annotations

from typing import Final

from streams.core.events import ITEM_WORK_LINES, AnyEvent, ClickEvent, PurchaseEvent
from streams.core.model_api import RecommenderLike
from streams.core.models_config import RecommendationSettings
from streams.core.state import UserState

# How much an interaction says about taste: a purchase more than a view.
WEIGHTS: Final = {"view": 1.0, "wishlist": 2.0, "add_to_cart": 3.0, "purchase": 5.0}


def items_of(event: AnyEvent) -> tuple[list[str], float]:
    """Items an event is about, and the weight of the signal (none for other events)."""
    if isinstance(event, ClickEvent):
        weight = WEIGHTS.get(event.action, 0.0)
        return ([event.item_id] if event.item_id and weight else []), weight
    if isinstance(event, PurchaseEvent):
        return [item.item_id for item in event.items[:ITEM_WORK_LINES]], WEIGHTS["purchase"]
    return [], 0.0


class RecommendTracker:
    def __init__(self, settings: RecommendationSettings, model: RecommenderLike) -> None:
        self.settings = settings
        self.model = model

    def on_event(self, state: UserState, event: AnyEvent) -> None:
        items, weight = items_of(event)
        recent = state.recent_items
        for item in items:
            self.model.learn_one(recent, item, weight)
            if item in recent:
                recent.remove(item)
            recent.append(item)
        if len(recent) > self.settings.recent_items:
            del recent[: len(recent) - self.settings.recent_items]

    def recommend(self, state: UserState) -> list[str]:
        return self.model.recommend(state.recent_items, self.settings.k)
