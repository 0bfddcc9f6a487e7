"""`trigger: {event: first_purchase}`: a customer's first order (never a returning one's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from streams.core.events import PurchaseEvent
from streams.core.triggers.base import Candidate, Moment, TriggerKind

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign


class FirstPurchaseTrigger(TriggerKind):
    """Fires at a user's first purchase, unless the seen-before memory knows them."""

    name = "first_purchase"

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        event, state = moment.event, moment.state
        if not isinstance(event, PurchaseEvent) or state.features.orders != 1 or state.returning:
            return []
        return [
            Candidate(
                campaign, f"first:{event.event_id}", event.event_id, "first purchase", event.ts
            )
            for campaign in campaigns
        ]
