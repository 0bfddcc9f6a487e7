"""Campaign triggers are one class each (streams/core/triggers/): a new one is one file."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from streams.core.campaign_config import Campaign
from streams.core.errors import ConfigError
from streams.core.events import PurchaseEvent
from streams.core.triggers import TRIGGERS, Candidate, Moment, TriggerKind
from tests.helpers import DAY, T0, purchase
from tests.unit.test_campaigns import camp, feed, kinds, pipeline, signup


class SecondPurchaseTrigger(TriggerKind):
    """What a new trigger file would hold: a thank-you at the second order."""

    name = "second_purchase"

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        event = moment.event
        if not isinstance(event, PurchaseEvent) or moment.state.features.orders != 2:
            return []
        cause = f"second:{event.event_id}"
        return [Candidate(c, cause, event.event_id, "second order", event.ts) for c in campaigns]


def test_a_registered_trigger_kind_is_configured_and_fired_like_the_built_in_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(TRIGGERS, "second_purchase", SecondPurchaseTrigger())
    p = pipeline([camp("thanks_again", {"event": "second_purchase"})])
    out = feed(
        p,
        [
            signup("a", T0),
            purchase("a", T0 + DAY, event_id="o1"),
            purchase("a", T0 + 3 * DAY, event_id="o2"),
            purchase("a", T0 + 5 * DAY, event_id="o3"),
        ],
    )
    assert kinds(out) == [("campaign_message", "thanks_again", "")]
    assert out[0]["cause_event_id"] == "o2"


def test_an_unregistered_event_trigger_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match=r"second_purchase.*use one of first_purchase"):
        pipeline([camp("thanks_again", {"event": "second_purchase"})])


def test_timed_kinds_say_when_they_fire_and_the_others_do_not() -> None:
    timed = {name for name, kind in TRIGGERS.items() if kind.timed}
    assert timed == {"cart_abandoned", "browse_abandoned", "search_abandoned"}
