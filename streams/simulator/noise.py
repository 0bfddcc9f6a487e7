"""Deliberately bad records, to show (and test) that every kind is dead-lettered."""

from __future__ import annotations

import random
from typing import Any

import orjson

NOISE_KINDS = (
    "malformed_json",
    "missing_field",
    "wrong_type",
    "unknown_type",
    "absurd_timestamp",
    "duplicate_event_id",
    "not_an_object",
)


def bad_record(rng: random.Random, good: dict[str, Any], good_line: bytes) -> tuple[str, bytes]:
    """A bad record derived from a good one, and the reason Pulse should give for it."""
    kind = rng.choice(NOISE_KINDS)
    broken = dict(good)
    if kind == "malformed_json":
        return kind, good_line[: max(1, len(good_line) // 2)]
    if kind == "missing_field":
        del broken["user_id"]
    elif kind == "wrong_type":
        broken["user_id"] = 12345
    elif kind == "unknown_type":
        broken["type"] = "refund"
    elif kind == "absurd_timestamp":
        broken["ts"] = 1_500_000_000  # epoch seconds, not milliseconds
    elif kind == "duplicate_event_id":
        return kind, good_line
    else:
        return kind, orjson.dumps([good["event_id"]])
    broken["event_id"] = f"{good['event_id']}-bad"
    return kind, orjson.dumps(broken)
