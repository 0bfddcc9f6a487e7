"""What the event-pattern triggers share: a pattern left alone for `minutes`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streams.core.config_reader import Path, Reader
from streams.core.state import UserState
from streams.core.triggers.base import Candidate, Fail, Moment, Trigger, TriggerKind

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign


class TimedTrigger(TriggerKind):
    """Fires `minutes` after a pattern (an open cart, a session) stopped, with no purchase.

    A subclass says when its pattern fires (`fire`) and reads any option of its own.
    `state.fired` remembers the pattern's marker, so one pattern fires once.
    """

    timed = True

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        return Trigger(self.name, minutes=reader.number(raw, path, "minutes", 60, 1, True))

    def fire(self, state: UserState, campaign: Campaign) -> tuple[int, int, str] | None:
        """(fire time, marker, description) of the user's pending pattern, if any."""
        raise NotImplementedError

    def due(self, state: UserState, campaign: Campaign) -> int | None:
        fire = self.fire(state, campaign)
        return None if fire is None else fire[0]

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        found = []
        for campaign in campaigns:
            fire = self.fire(moment.state, campaign)
            if fire is None or fire[0] > moment.now:
                continue
            at, marker, description = fire
            moment.state.fired[campaign.name] = marker
            # Decided now: the pattern's moment (`at`) may be long past after a quiet
            # spell, and then the message has expired.
            found.append(Candidate(campaign, f"{self.name}@{marker}", None, description, at))
        return found


def session_pattern(state: UserState, campaign: Campaign) -> bool:
    """A session is open, has not fired this campaign and has not bought."""
    f = state.features
    return not (
        f.sessions == 0 or state.fired.get(campaign.name) == f.session_start or f.session_purchased
    )
