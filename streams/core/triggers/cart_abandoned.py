"""`trigger: {event: cart_abandoned, minutes: 60}`: a cart left open without a purchase."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.core.state import UserState
from streams.core.timefmt import MS_PER_MINUTE
from streams.core.triggers.timed import TimedTrigger

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign


class CartAbandonedTrigger(TimedTrigger):
    name = "cart_abandoned"

    def fire(self, state: UserState, campaign: Campaign) -> tuple[int, int, str] | None:
        f, t = state.features, campaign.trigger
        if f.cart_open and f.cart_opened_at and state.fired.get(campaign.name) != f.cart_opened_at:
            at = f.cart_opened_at + t.minutes * MS_PER_MINUTE
            return at, f.cart_opened_at, f"cart left for {t.minutes} min"
        return None
