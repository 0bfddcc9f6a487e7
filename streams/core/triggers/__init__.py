"""Campaign triggers: one kind per file, registered here (see base.py for the hooks).

Adding a trigger is one new file with a `TriggerKind` subclass and one line in `TRIGGERS`.
A campaign names its trigger as `segment: {...}`, `churn_band: band` or `event: <name>`:

>>> sorted(TRIGGERS)
['browse_abandoned', 'cart_abandoned', 'churn_band', 'first_purchase', 'search_abandoned', 'segment']
>>> event_triggers()
('first_purchase', 'cart_abandoned', 'browse_abandoned', 'search_abandoned')
"""

from __future__ import annotations

from typing import Final

from streams.core.config_reader import Path, Reader, dotted
from streams.core.triggers.base import Candidate, Fail, Moment, Trigger, TriggerKind
from streams.core.triggers.browse_abandoned import BrowseAbandonedTrigger
from streams.core.triggers.cart_abandoned import CartAbandonedTrigger
from streams.core.triggers.churn_band import BANDS, ChurnBandTrigger
from streams.core.triggers.first_purchase import FirstPurchaseTrigger
from streams.core.triggers.search_abandoned import SearchAbandonedTrigger
from streams.core.triggers.segment import SegmentTrigger

__all__ = [
    "BANDS",
    "TRIGGERS",
    "Candidate",
    "Moment",
    "Trigger",
    "TriggerKind",
    "event_triggers",
    "parse_trigger",
]

# Order matters where a moment has several: candidates are proposed in this order.
TRIGGERS: Final[dict[str, TriggerKind]] = {
    kind.name: kind
    for kind in (
        SegmentTrigger(),
        ChurnBandTrigger(),
        FirstPurchaseTrigger(),
        CartAbandonedTrigger(),
        BrowseAbandonedTrigger(),
        SearchAbandonedTrigger(),
    )
}
# Every kind but these two is named in configuration as `event: <name>`.
_NAMED_BY_KEY: Final = frozenset({SegmentTrigger.name, ChurnBandTrigger.name})
_OPTIONS: Final = ("minutes", "min_searches", "min_views", "min_days_inactive")


def event_triggers() -> tuple[str, ...]:
    """The kinds named as `event: <name>`, as registered now (a test may add one)."""
    return tuple(name for name in TRIGGERS if name not in _NAMED_BY_KEY)


def parse_trigger(reader: Reader, data: object, path: Path, fail: Fail) -> Trigger:
    """A campaign's `trigger:` mapping, checked by the kind it names."""
    raw = reader.mapping(data, path, ("segment", "churn_band", "event", *_OPTIONS))
    kinds = [key for key in ("segment", "churn_band", "event") if key in raw]
    if len(kinds) != 1:
        raise fail(
            path,
            f"'{dotted(path)}' needs exactly one of segment, churn_band, event",
            "e.g. trigger: {segment: {dimension: lifecycle, to: dormant}}",
        )
    name = kinds[0] if kinds[0] != "event" else raw["event"]
    events = event_triggers()
    if kinds[0] == "event" and name not in events:
        raise fail(
            (*path, "event"),
            f"'{dotted((*path, 'event'))}' is {name!r}",
            f"use one of {', '.join(events)}",
        )
    return TRIGGERS[str(name)].parse(reader, raw, path, fail)
