"""Named rule segments from the config: enter when `enter` holds, leave when `exit` holds.

Without an `exit` rule a user leaves when `enter` stops holding; a separate, looser exit
rule is the hysteresis that keeps users near a boundary from flapping.

A rule is only re-evaluated when something it reads can have changed: an event of a kind
that changes one of its variables, or, for rules over time-dependent variables (decayed
windows, recency), the user's first event of a new day. Between those, its result cannot
differ, so skipping it changes no output and saves most of the per-event cost.
"""

from __future__ import annotations

from typing import Final

from streams.core.changes import Change
from streams.core.config import RuleSegment
from streams.core.feature_view import TIME
from streams.core.rules import Rule, RuleError
from streams.core.state import UserState

IN: Final = "in"
OUT: Final = "out"


def dimension(segment: RuleSegment) -> str:
    return f"rule:{segment.name}"


def _affected(rule: Rule, kind: str | None, new_day: bool) -> bool:
    if kind is None:
        return True
    triggers = rule.triggers
    return kind in triggers or (new_day and TIME in triggers)


def evaluate_rules(
    state: UserState,
    segments: tuple[RuleSegment, ...],
    now: int,
    cause: str | None,
    errors: list[str],
    kind: str | None = None,
    new_day: bool = True,
) -> list[Change]:
    """Re-evaluate rule segments that `kind` (None: all) may affect.

    Failures are appended to `errors` and leave the membership as it was.
    """
    changes: list[Change] = []
    for segment in segments:
        inside = segment.name in state.rules
        rule = segment.exit if inside and segment.exit is not None else segment.enter
        if not _affected(rule, kind, new_day):
            continue
        # Outside: the enter rule moves them in. Inside: the exit rule moves them out,
        # or, without one, the enter rule no longer holding.
        leaves_when_false = inside and segment.exit is None
        try:
            move = rule.evaluate(state, now) != leaves_when_false
        except RuleError as exc:
            errors.append(f"segment {segment.name!r}: {exc}")
            continue
        if not move:
            continue
        label = "no longer" if leaves_when_false else "exit" if inside else "enter"
        reason = f"{label}: {rule.source}"  # written only for a move
        if inside:
            state.rules.remove(segment.name)
            changes.append(Change(state.user_id, dimension(segment), IN, OUT, reason, now, cause))
        else:
            state.rules.append(segment.name)
            changes.append(Change(state.user_id, dimension(segment), OUT, IN, reason, now, cause))
    return changes
