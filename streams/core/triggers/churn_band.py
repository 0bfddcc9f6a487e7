"""`trigger: {churn_band: high, min_days_inactive: 14}`: churn risk rose while inactive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from streams.core.config_reader import Path, Reader, dotted
from streams.core.timefmt import MS_PER_DAY
from streams.core.triggers.base import Candidate, Fail, Moment, Trigger, TriggerKind

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign

BANDS: Final = ("low", "medium", "high")


class ChurnBandTrigger(TriggerKind):
    """Fires when a user's churn band becomes `to`, `min_days_inactive` or more after their
    last qualifying event: risk that rose during inactivity, never the purchase itself."""

    name = "churn_band"

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        band = raw["churn_band"]
        if band not in BANDS:
            raise fail(
                (*path, "churn_band"),
                f"'{dotted((*path, 'churn_band'))}' is {band!r}",
                f"use one of {', '.join(BANDS)}",
            )
        inactive = reader.number(raw, path, "min_days_inactive", 14, 0, True)
        return Trigger(self.name, dimension="churn_band", to=str(band), min_days_inactive=inactive)

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        scored = moment.scored
        if scored is None or not scored.band_changed:
            return []
        state = moment.state
        last = state.churn_anchor or state.features.last_purchase
        inactive = scored.ts - last if last else MS_PER_DAY * 100_000
        return [
            Candidate(
                campaign,
                f"band:{scored.band}@{scored.cause}",
                scored.event_id,
                f"churn band {scored.previous_band or 'none'} -> {scored.band}",
                scored.ts,
            )
            for campaign in campaigns
            if scored.band == campaign.trigger.to
            and inactive >= campaign.trigger.min_days_inactive * MS_PER_DAY
        ]
