"""`trigger: {segment: {dimension: D, to: V}}` (or `from: V`): a segment move."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streams.core.config_reader import Path, Reader, dotted
from streams.core.triggers.base import Candidate, Fail, Moment, Trigger, TriggerKind

if TYPE_CHECKING:
    from streams.core.campaign_config import Campaign


class SegmentTrigger(TriggerKind):
    """Fires when a user enters (`to`) or leaves (`from`) a value of a segment dimension."""

    name = "segment"

    def parse(self, reader: Reader, raw: dict[str, Any], path: Path, fail: Fail) -> Trigger:
        seg_path = (*path, "segment")
        seg = reader.mapping(raw["segment"], seg_path, ("dimension", "to", "from"))
        dimension = seg.get("dimension")
        ends = [key for key in ("to", "from") if key in seg]
        if not isinstance(dimension, str) or not dimension or len(ends) != 1:
            raise fail(
                seg_path,
                f"'{dotted(seg_path)}' needs a dimension and one of to / from",
                "e.g. segment: {dimension: lifecycle, to: dormant} "
                "(rule segments: dimension rule:<name>, to: in)",
            )
        return Trigger(
            self.name, dimension=dimension, to=str(seg[ends[0]]), leaving=ends[0] == "from"
        )

    def candidates(self, moment: Moment, campaigns: Sequence[Campaign]) -> list[Candidate]:
        found = []
        for change in moment.changes:
            for campaign in campaigns:
                t = campaign.trigger
                if change.dimension != t.dimension:
                    continue
                value = change.old if t.leaving else change.new
                if value == t.to and change.old != change.new:
                    cause = change.cause if change.cause is not None else f"watermark@{change.ts}"
                    found.append(
                        Candidate(
                            campaign,
                            f"{t.dimension}:{change.old}->{change.new}@{cause}",
                            change.cause,
                            f"{t.dimension} {change.old or 'none'} -> {change.new}",
                            change.ts,
                        )
                    )
        return found
