"""Named rule segments from the config: enter when `enter` holds, leave when `exit` holds.

Without an `exit` rule a user leaves when `enter` stops holding; a separate, looser exit
rule is the hysteresis that keeps users near a boundary from flapping.
"""

from __future__ import annotations

from typing import Final

from streams.core.changes import Change
from streams.core.config import RuleSegment
from streams.core.rules import RuleError
from streams.core.state import UserState

IN: Final = "in"
OUT: Final = "out"


def dimension(segment: RuleSegment) -> str:
    return f"rule:{segment.name}"


def evaluate_rules(state: UserState, segments: tuple[RuleSegment, ...], now: int,
                   cause: str | None, errors: list[str]) -> list[Change]:
    """Re-evaluate every rule segment; failures are appended to `errors`, membership kept."""
    changes: list[Change] = []
    for segment in segments:
        inside = segment.name in state.rules
        try:
            if not inside:
                move = segment.enter.evaluate(state, now)
                reason = f"enter: {segment.enter.source}"
            elif segment.exit is not None:
                move = segment.exit.evaluate(state, now)
                reason = f"exit: {segment.exit.source}"
            else:
                move = not segment.enter.evaluate(state, now)
                reason = f"no longer: {segment.enter.source}"
        except RuleError as exc:
            errors.append(f"segment {segment.name!r}: {exc}")
            continue
        if not move:
            continue
        if inside:
            state.rules.remove(segment.name)
            changes.append(Change(state.user_id, dimension(segment), IN, OUT, reason, now, cause))
        else:
            state.rules.append(segment.name)
            changes.append(Change(state.user_id, dimension(segment), OUT, IN, reason, now, cause))
    return changes
