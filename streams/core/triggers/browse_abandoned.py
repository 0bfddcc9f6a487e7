"""`trigger: {event: browse_abandoned, minutes: 30, min_views: 3}`: views, no cart."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from streams.core.config_reader import Path, Reader
from streams.core.state import UserState
from streams.core.timefmt import MS_PER_MINUTE
from streams.core.triggers.base import Fail, Trigger
from streams.core.triggers.timed import TimedTrigger, session_pattern

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign


class BrowseAbandonedTrigger(TimedTrigger):
    name = "browse_abandoned"

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        trigger = super().parse(reader, raw, path, fail)
        return replace(trigger, min_views=reader.number(raw, path, "min_views", 1, 1, True))

    def fire(self, state: UserState, campaign: Campaign) -> tuple[int, int, str] | None:
        f, t = state.features, campaign.trigger
        if not session_pattern(state, campaign) or f.session_views < t.min_views:
            return None
        if f.session_has_cart:
            return None
        return (
            f.session_last + t.minutes * MS_PER_MINUTE,
            f.session_start,
            f"browsed {f.session_views} items, no cart, {t.minutes} min",
        )
