"""Behavioural personas: an online clustering of users, smoothed before a change is emitted.

A user is (re)assigned at most once per event day (on their first event of the day),
once they have `min_events` events. The clustering model learns from the same assignment.
The persona is the cluster's label, named from its centre in absolute terms (`LEVELS`):
`high_<feature>` after the level the centre exceeds most, `average` when none is reached,
`low_activity` when every feature is under a quarter of its level. So the same behaviour
has the same name in every partition and every shop, and a behaviour the log never shows
(no discounts, no searches) never names a persona. A persona change is
emitted only after the same new cluster wins `switch_after` assignments in a
row, so a user near a boundary does not flip back and forth.
"""

from __future__ import annotations

import math
from typing import Final, cast

from streams.core.changes import Change
from streams.core.feature_view import VARIABLES
from streams.core.model_api import ClusterModelLike
from streams.core.models_config import ClusterSettings
from streams.core.state import UserState

DIMENSION: Final = "persona"
# Behaviour, not value or time: who browses, who carts and abandons, who hunts discounts.
FEATURES: Final = (
    "views",
    "carts",
    "searches",
    "orders",
    "sessions",
    "avg_order_value",
    "discount_share",
    "cart_abandonment_rate",
    "search_no_result_share",
)
_COUNTS: Final = frozenset({"views", "carts", "searches", "orders", "sessions", "avg_order_value"})
# What "high" means, in the feature's own units (lifetime counts, shares, amounts).
LEVELS: Final = {
    "views": 30.0,
    "carts": 5.0,
    "searches": 10.0,
    "orders": 5.0,
    "sessions": 10.0,
    "avg_order_value": 150.0,
    "discount_share": 0.3,
    "cart_abandonment_rate": 0.5,
    "search_no_result_share": 0.3,
}


def levels_in_model_units() -> tuple[tuple[str, float], ...]:
    """`LEVELS` as the clustering sees them (counts and amounts through log1p)."""
    return tuple(
        (name, math.log1p(level) if name in _COUNTS else level) for name, level in LEVELS.items()
    )


def behaviour(state: UserState, now: int) -> dict[str, float]:
    """Clustering input: log1p of counts and amounts (heavy-tailed), shares as they are."""
    x: dict[str, float] = {}
    for name in FEATURES:
        value = float(cast(float, VARIABLES[name].compute(state, now)))
        x[name] = math.log1p(max(value, 0.0)) if name in _COUNTS else value
    return x


class PersonaTracker:
    def __init__(self, settings: ClusterSettings, model: ClusterModelLike) -> None:
        self.settings = settings
        self.model = model

    def on_event(self, state: UserState, now: int, cause: str, new_day: bool) -> Change | None:
        if not new_day or state.features.events < self.settings.min_events:
            return None
        cluster = self.model.label(self.model.learn_predict_one(behaviour(state, now)))
        if cluster == state.persona:
            state.persona_candidate, state.persona_votes = "", 0
            return None
        if state.persona and cluster == state.persona_candidate:
            state.persona_votes += 1
        elif state.persona:
            state.persona_candidate, state.persona_votes = cluster, 1
        if state.persona and state.persona_votes < self.settings.switch_after:
            return None
        old = state.persona
        state.persona, state.persona_candidate, state.persona_votes = cluster, "", 0
        reason = (
            "first behaviour profile"
            if not old
            else f"closest to {cluster} in {self.settings.switch_after} assignments in a row"
        )
        return Change(state.user_id, DIMENSION, old, cluster, reason, now, cause)
