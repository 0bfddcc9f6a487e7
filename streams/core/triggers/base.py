"""What every campaign trigger shares: its configuration, its candidates, its hooks.

A trigger kind is one class in one file of this package with three hooks:

* `parse` — its part of a campaign's `trigger:` configuration, checked at start-up;
* `candidates` — the messages it proposes at a moment (a user's event, or event time
  reaching them), one `Candidate` per campaign that fires;
* `due` — when event time alone would make it fire next for a user (None: never).

The campaign engine (streams/core/campaigns.py) decides on the candidates (audience,
consent, caps, quiet hours, arbitration); a trigger only says *why* a message is due.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from streams.core.changes import Change
from streams.core.churn import Scored
from streams.core.config_reader import Path, Reader
from streams.core.errors import ConfigError
from streams.core.events import AnyEvent
from streams.core.state import UserState

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign

Fail = Callable[[Path, str, str], ConfigError]  # (path, problem, fix) -> the error to raise


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: str  # a key of streams.core.triggers.TRIGGERS
    dimension: str = ""
    to: str = ""  # segment value (or band) entered; with leaving=True, the one left
    leaving: bool = False
    minutes: int = 0  # timed triggers: how long without a purchase
    min_searches: int = 0
    min_views: int = 0
    # churn_band triggers: fire only when risk rose during inactivity — this many days
    # after the user's last qualifying event (a purchase must never trigger a win-back).
    min_days_inactive: int = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    campaign: Campaign
    cause_key: str  # what fired it, unique per user and campaign
    cause_event_id: str | None
    trigger: str  # readable description
    ts: int  # event time it fired at


@dataclass(frozen=True, slots=True)
class Moment:
    """When triggers are asked: after `event` was applied, or event time reached `now`."""

    state: UserState
    now: int
    event: AnyEvent | None  # None: event time alone (a rescoring, a due time)
    changes: Sequence[Change]
    scored: Scored | None


class TriggerKind:
    """One kind of trigger. `timed` kinds fire from due times, one campaign at a time."""

    name: ClassVar[str]
    timed: ClassVar[bool] = False

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        """The `Trigger` of a campaign's `trigger:` mapping (`raw`), or `fail(...)` raised."""
        return Trigger(self.name)

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        """The messages `campaigns` (all of this kind, in configuration order) propose."""
        raise NotImplementedError

    def due(self, state: UserState, campaign: Campaign) -> int | None:
        """When event time alone would make `campaign` fire for this user."""
        return None
