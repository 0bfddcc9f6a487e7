"""`trigger: {event: search_abandoned, minutes: 30, min_searches: 2}`: searches, no order."""

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


class SearchAbandonedTrigger(TimedTrigger):
    name = "search_abandoned"

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        trigger = super().parse(reader, raw, path, fail)
        return replace(trigger, min_searches=reader.number(raw, path, "min_searches", 2, 1, True))

    def fire(self, state: UserState, campaign: Campaign) -> tuple[int, int, str] | None:
        f, t = state.features, campaign.trigger
        if not session_pattern(state, campaign) or f.session_searches < t.min_searches:
            return None
        return (
            f.session_last + t.minutes * MS_PER_MINUTE,
            f.session_start,
            f"{f.session_searches} searches, no purchase, {t.minutes} min",
        )
